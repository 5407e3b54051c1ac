import * as fs from "fs";

/** Resident memory (bytes) of a process and all its descendants, from /proc. */
export function treeRss(rootPid: number): number {
    const children = new Map<number, number[]>();
    const rss = new Map<number, number>();
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) {
            continue;
        }
        try {
            const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            const ppid = Number(fields[1]);
            rss.set(Number(d), Number(fields[21]) * 4096);
            children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
        } catch {
            // the process ended while we read
        }
    }
    let total = 0;
    const stack = [rootPid];
    while (stack.length) {
        const p = stack.pop()!;
        total += rss.get(p) ?? 0;
        stack.push(...(children.get(p) ?? []));
    }
    return total;
}
