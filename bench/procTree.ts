import * as fs from "fs";

/** Each live process of the tree under rootPid: its resident memory (bytes) and CPU so far (seconds). */
function treeStats(rootPid: number): Map<number, { rss: number; cpu: number }> {
    const children = new Map<number, number[]>();
    const stats = new Map<number, { rss: number; cpu: number }>();
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) {
            continue;
        }
        try {
            const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            const ppid = Number(fields[1]);
            // utime and stime, in clock ticks (100 per second on Linux).
            stats.set(Number(d), { rss: Number(fields[21]) * 4096, cpu: (Number(fields[11]) + Number(fields[12])) / 100 });
            children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
        } catch {
            // the process ended while we read
        }
    }
    const out = new Map<number, { rss: number; cpu: number }>();
    const stack = [rootPid];
    while (stack.length) {
        const p = stack.pop()!;
        const s = stats.get(p);
        if (s) out.set(p, s);
        stack.push(...(children.get(p) ?? []));
    }
    return out;
}

/** Resident memory (bytes) of a process and all its descendants, from /proc. */
export function treeRss(rootPid: number): number {
    return [...treeStats(rootPid).values()].reduce((a, s) => a + s.rss, 0);
}

/**
 * Samples a process tree's CPU: each process's last-seen CPU time, summed. The engine does
 * not reap every plugin it starts, so the children's rusage of the root undercounts; a
 * process's last ~sampling interval of CPU is what this misses.
 */
export class TreeCpu {
    private readonly lastSeen = new Map<number, number>();

    sample(rootPid: number): void {
        for (const [pid, s] of treeStats(rootPid)) this.lastSeen.set(pid, s.cpu);
    }

    get seconds(): number {
        return [...this.lastSeen.values()].reduce((a, b) => a + b, 0);
    }
}
