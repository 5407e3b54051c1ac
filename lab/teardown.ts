// `down`, also run first by `up`: removes every trace of a lab, whatever state
// it was left in (processes killed, holder gone, half-made hosts).
import * as fs from "fs";
import { labPaths } from "./paths";
import { removeSystemAccounts } from "./systemAccounts";
import { tryRun, sleep } from "./shell";

/**
 * Every process living in one of this lab's mount namespaces: their mountinfo
 * shows the lab's uniquely named /home tmpfs. This finds sshd sessions and app
 * processes even when the lab's pid files are stale or gone.
 */
export function labProcesses(mountLabel: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    const pid = Number(entry);
    if (!pid || pid === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/mountinfo`, "utf8").includes(` ${mountLabel} `)) pids.push(pid);
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** Mounts in this (the real) namespace at or under the lab directory; there should be none. */
export function labMountsHere(labDir: string): string[] {
  return fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((mp): mp is string => !!mp && (mp === labDir || mp.startsWith(labDir + "/")));
}

export interface TeardownReport {
  killedProcesses: number;
  unmounted: string[];
  removedSystemChanges: string[];
  removedLabDir: boolean;
}

export async function teardownLab(labDir?: string): Promise<TeardownReport> {
  const p = labPaths(labDir);
  let killed = 0;
  // The namespaces (and every mount in them) vanish with their last process.
  for (let round = 0; round < 50; round++) {
    const pids = labProcesses(p.mountLabel);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        if (round === 0) killed++;
      } catch {
        // already gone
      }
    }
    await sleep(50);
  }
  const stuck = labProcesses(p.mountLabel);
  if (stuck.length) throw new Error(`could not stop lab processes: ${stuck.join(", ")}`);

  const unmounted = labMountsHere(p.labDir).reverse();
  for (const mp of unmounted) tryRun("umount", ["-l", mp]);

  const removedSystemChanges = removeSystemAccounts(p.systemChangesFile, p.labDir);
  const existed = fs.existsSync(p.labDir);
  fs.rmSync(p.labDir, { recursive: true, force: true });
  return { killedProcesses: killed, unmounted, removedSystemChanges, removedLabDir: existed };
}
