// Process checks by /proc. A killed lab process is reparented to this machine's
// init, which reaps lazily, so a zombie can linger: it counts as gone.
import * as fs from "fs";

/** The process's command name, or null when it is gone or a zombie. */
export function liveProcessName(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state …": comm may hold spaces or parentheses, so split at the last ')'.
    const close = stat.lastIndexOf(")");
    const state = stat.slice(close + 2, close + 3);
    if (state === "Z" || state === "X") return null;
    return stat.slice(stat.indexOf("(") + 1, close);
  } catch {
    return null;
  }
}

export const isAlive = (pid: number) => pid > 0 && liveProcessName(pid) !== null;
