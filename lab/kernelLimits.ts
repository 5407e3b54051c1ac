// The one machine-wide setting the lab changes: every booted host's systemd, journald,
// logind and dbus hold inotify instances, and the kernel's default of 128 per user (all
// hosts run as root) stops the ~20th host with "Failed to allocate manager object: Too
// many open files". `up` raises the limit for the lab's size and records the old value
// in the lab directory; `down` puts it back.
import * as fs from "fs";
import * as path from "path";

const INSTANCES = "/proc/sys/fs/inotify/max_user_instances";
/** Measured need is about 6 per host; twice that, plus this machine's own share. */
const PER_HOST = 12;
const BASE = 256;

const recordFile = (labDir: string) => path.join(labDir, "kernel-limits.json");

export function raiseInotifyLimit(labDir: string, hosts: number): void {
  const current = Number(fs.readFileSync(INSTANCES, "utf8").trim());
  const wanted = BASE + PER_HOST * hosts;
  if (current >= wanted) return;
  fs.writeFileSync(recordFile(labDir), JSON.stringify({ [INSTANCES]: current }) + "\n");
  fs.writeFileSync(INSTANCES, `${wanted}\n`);
}

export function restoreKernelLimits(labDir: string): string[] {
  let recorded: Record<string, number>;
  try {
    recorded = JSON.parse(fs.readFileSync(recordFile(labDir), "utf8"));
  } catch {
    return [];
  }
  for (const [file, value] of Object.entries(recorded)) fs.writeFileSync(file, `${value}\n`);
  return Object.keys(recorded).map((f) => `${f.replace("/proc/sys/", "").replace(/\//g, ".")} back to ${recorded[f]}`);
}
