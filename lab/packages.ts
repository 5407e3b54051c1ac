// What this machine needs to run lab hosts: root, the Debian packages that boot
// and build them (installed when missing), and the kernel features they use.
import { existsSync, readFileSync } from "fs";
import { run } from "./shell";

/** RACHEL_LAB_NSPAWN points the lab at another nspawn (the lab test uses it to see the lab fail). */
export const NSPAWN = process.env.RACHEL_LAB_NSPAWN ?? "/usr/bin/systemd-nspawn";

const REQUIRED: Array<{ pkg: string; file: string; why: string }> = [
  { pkg: "systemd-container", file: NSPAWN, why: "boots each lab host's Debian with its own systemd" },
  { pkg: "debootstrap", file: "/usr/sbin/debootstrap", why: "builds the hosts' Debian base image" },
  { pkg: "openssh-client", file: "/usr/bin/ssh-keygen", why: "makes the fleet key and the hosts' keys" },
  { pkg: "git", file: "/usr/bin/git", why: "builds the lab's origin repository" },
];

export function requireRoot(): void {
  if (typeof process.getuid === "function" && process.getuid() === 0) return;
  throw new Error("the lab must run as root: it boots containers (systemd-nspawn), mounts their disks and makes cgroups. Re-run with sudo.");
}

export function ensurePackages(log: (m: string) => void): void {
  const missing = REQUIRED.filter((r) => !existsSync(r.file) && r.file.startsWith("/usr/"));
  if (missing.length && !process.env.RACHEL_LAB_NSPAWN) {
    log(`installing ${missing.map((m) => m.pkg).join(", ")} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    try {
      run("apt-get", ["install", "-y", "--no-install-recommends", ...missing.map((m) => m.pkg)], { env, stdio: ["ignore", "ignore", "pipe"] });
    } catch {
      run("apt-get", ["update"], { env, stdio: ["ignore", "ignore", "pipe"] });
      run("apt-get", ["install", "-y", "--no-install-recommends", ...missing.map((m) => m.pkg)], { env, stdio: ["ignore", "ignore", "pipe"] });
    }
  }
  requireHostTools();
}

/** Fails naming what is missing: the lab never falls back to something that is not a booted host. */
export function requireHostTools(files = REQUIRED.map((r) => r.file)): void {
  const missing = REQUIRED.filter((r) => files.includes(r.file) && !existsSync(r.file));
  if (missing.length) {
    throw new Error(`lab hosts cannot be made on this machine: missing ${missing.map((m) => `${m.file} (Debian package ${m.pkg}: ${m.why})`).join("; ")}`);
  }
  const filesystems = readFileSync("/proc/filesystems", "utf8");
  if (!/\toverlay$/m.test(filesystems)) throw new Error("lab hosts cannot be made on this machine: the kernel has no overlay file system (each host's disk is an overlay on the shared base)");
}
