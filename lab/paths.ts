// Where everything of a lab lives. One lab directory holds all lab state, so
// `down` can remove the lab by removing that directory (plus the few recorded
// system changes in systemAccounts.ts).
import * as path from "path";
import { createHash } from "crypto";

export const REPO_ROOT = path.resolve(__dirname, "..");

/** Paths each host replaces with its own; a lab directory under one would be invisible inside the hosts. */
export const SHADOWED = ["/home", "/run", "/tmp", "/var/log", "/usr/local"];

export function shadowedBy(dir: string): string | undefined {
  return SHADOWED.find((s) => dir === s || dir.startsWith(s + "/"));
}

/**
 * LAB_DIR, else <repo>/.lab, else — when the checkout itself lives where hosts see
 * their own copy (a clone under /tmp, say) — a directory of its own under /var/lib.
 */
export function resolveLabDir(labDir?: string): string {
  const chosen = labDir ?? process.env.LAB_DIR;
  if (chosen) return path.resolve(chosen);
  const inRepo = path.join(REPO_ROOT, ".lab");
  if (!shadowedBy(inRepo)) return inRepo;
  return `/var/lib/rachel-fleet-lab-${createHash("sha1").update(REPO_ROOT).digest("hex").slice(0, 12)}`;
}

export interface LabPaths {
  labDir: string;
  keysDir: string;
  privateKey: string;
  originRepo: string;
  /** Mounted read-only on /usr/local inside every host: bun, the systemctl stand-in. */
  usrLocal: string;
  hostsDir: string;
  stateFile: string;
  systemChangesFile: string;
  /** Source name of each host's /home tmpfs; finding it in a process's mountinfo marks that process as ours. */
  mountLabel: string;
}

export function labPaths(labDir?: string): LabPaths {
  const dir = resolveLabDir(labDir);
  return {
    labDir: dir,
    keysDir: path.join(dir, "keys"),
    privateKey: path.join(dir, "keys", "fleet_ed25519"),
    originRepo: path.join(dir, "origin.git"),
    usrLocal: path.join(dir, "usr-local"),
    hostsDir: path.join(dir, "hosts"),
    stateFile: path.join(dir, "lab.json"),
    systemChangesFile: path.join(dir, "system-changes.json"),
    mountLabel: "rachel-lab-" + createHash("sha1").update(dir).digest("hex").slice(0, 12),
  };
}

export interface HostPaths {
  dir: string;
  sshDir: string;
  hostKey: string;
  changedHostKey: string;
  authorizedKeys: string;
  sshdConfig: string;
  changedSshdConfig: string;
  sshdLog: string;
  /** Bind-mounted on /home/rachel inside the host. */
  home: string;
  /** Bind-mounted on /run inside the host (sshd privsep dir, service state, fault markers). */
  run: string;
  tmp: string;
  varLog: string;
  holderPid: string;
  sshdPid: string;
  holderLog: string;
}

export function hostPaths(labDir: string, name: string): HostPaths {
  const dir = path.join(labPaths(labDir).hostsDir, name);
  const sshDir = path.join(dir, "ssh");
  return {
    dir,
    sshDir,
    hostKey: path.join(sshDir, "ssh_host_ed25519_key"),
    changedHostKey: path.join(sshDir, "ssh_host_ed25519_key.changed"),
    authorizedKeys: path.join(sshDir, "authorized_keys"),
    sshdConfig: path.join(sshDir, "sshd_config"),
    changedSshdConfig: path.join(sshDir, "sshd_config.hostkey-changed"),
    sshdLog: path.join(dir, "sshd.log"),
    home: path.join(dir, "home"),
    run: path.join(dir, "run"),
    tmp: path.join(dir, "tmp"),
    varLog: path.join(dir, "var-log"),
    holderPid: path.join(dir, "holder.pid"),
    sshdPid: path.join(dir, "sshd.pid"),
    holderLog: path.join(dir, "holder.log"),
  };
}

/** lab-01..lab-NN; three digits once the fleet passes 99 so names sort. */
export function hostNames(count: number): string[] {
  const width = count > 99 ? 3 : 2;
  return Array.from({ length: count }, (_, i) => `lab-${String(i + 1).padStart(width, "0")}`);
}

/** 127.0.1.<i>: Linux routes all of 127.0.0.0/8 to lo, so no address has to be added (or removed). */
export function hostAddress(index: number): string {
  return `127.0.1.${index + 1}`;
}

export const MAX_HOSTS = 254;
