// `down`, also run first by `up`: removes every trace of a lab, whatever state it
// was left in (CLI killed halfway, containers still running, pid files stale).
import * as fs from "fs";
import * as path from "path";
import { labPaths } from "./paths";
import { cgroupRoots, cgroupPids, killCgroupTree } from "./container";
import { tryRun, sleep } from "./shell";
import { isAlive } from "./procfs";
import { restoreKernelLimits } from "./kernelLimits";

/** Every process of this lab: its supervisors' and containers' cgroups hold them all. */
export function labProcesses(labDir?: string): number[] {
  const name = labPaths(labDir).cgroupName;
  return [...new Set(cgroupRoots().flatMap((r) => cgroupPids(path.join(r, name))))];
}

/** Mounts in this namespace at or under the lab directory (the hosts' disks). */
export function labMountsHere(labDir: string): string[] {
  return fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((mp): mp is string => !!mp && (mp === labDir || mp.startsWith(labDir + "/")));
}

/** The directory of another lab whose hosts are running (a supervisor's arguments name it). */
export function otherLabUp(labDir: string): string | null {
  const ours = labPaths(labDir).cgroupName;
  for (const root of cgroupRoots()) {
    for (const entry of fs.readdirSync(root)) {
      if (!entry.startsWith("rachel-lab-") || entry === ours) continue;
      const pids = cgroupPids(path.join(root, entry));
      if (pids.length === 0) continue;
      for (const pid of pids) {
        const args = cmdline(pid);
        const i = args.findIndex((a) => a.endsWith("container-supervise.sh"));
        if (i >= 0 && args[i + 1]) return path.dirname(path.dirname(args[i + 1]));
      }
      return `(unknown: processes in cgroup ${entry})`;
    }
  }
  return null;
}

function cmdline(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

export interface TeardownReport {
  killedProcesses: number;
  unmounted: string[];
  /** Machine settings put back as they were before `up`. */
  restored: string[];
  removedLabDir: boolean;
}

export async function teardownLab(labDir?: string): Promise<TeardownReport> {
  const p = labPaths(labDir);
  // Supervisors first, so none boots a container again while it is being stopped.
  for (const pid of labProcesses(p.labDir)) {
    if (cmdline(pid).some((a) => a.endsWith("container-supervise.sh")) && isAlive(pid)) process.kill(pid, "SIGKILL");
  }
  await sleep(20);
  let killed = 0;
  for (const root of cgroupRoots()) killed += await killCgroupTree(path.join(root, p.cgroupName));

  const unmounted = labMountsHere(p.labDir).reverse();
  for (const mp of unmounted) {
    const r = tryRun("umount", [mp]);
    if (r.code !== 0) tryRun("umount", ["-l", mp]);
  }
  const restored = restoreKernelLimits(p.labDir);
  const existed = fs.existsSync(p.labDir);
  fs.rmSync(p.labDir, { recursive: true, force: true });
  return { killedProcesses: killed, unmounted, restored, removedLabDir: existed };
}
