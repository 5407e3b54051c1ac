// Where everything of a lab lives. One lab directory holds all lab state (hosts'
// disks included), so `down` removes the lab by stopping its containers, undoing
// its mounts and cgroups, and removing that directory.
import * as path from "path";
import { createHash } from "crypto";

export const REPO_ROOT = path.resolve(__dirname, "..");

/** LAB_DIR, else <repo>/.lab. */
export function resolveLabDir(labDir?: string): string {
  const chosen = labDir ?? process.env.LAB_DIR;
  return chosen ? path.resolve(chosen) : path.join(REPO_ROOT, ".lab");
}

export interface LabPaths {
  labDir: string;
  keysDir: string;
  privateKey: string;
  /** Bind-mounted read-only at the same path inside every host: the lab's stand-in for a git server. */
  originRepo: string;
  hostsDir: string;
  stateFile: string;
  /** This lab's cgroup (under each hierarchy): every host's container lives below it. */
  cgroupName: string;
}

export function labPaths(labDir?: string): LabPaths {
  const dir = resolveLabDir(labDir);
  return {
    labDir: dir,
    keysDir: path.join(dir, "keys"),
    privateKey: path.join(dir, "keys", "fleet_ed25519"),
    originRepo: path.join(dir, "origin.git"),
    hostsDir: path.join(dir, "hosts"),
    stateFile: path.join(dir, "lab.json"),
    cgroupName: "rachel-lab-" + createHash("sha1").update(dir).digest("hex").slice(0, 12),
  };
}

export interface HostPaths {
  dir: string;
  /** The host's own writes over the shared base (its disk). */
  upper: string;
  work: string;
  /** The overlay as mounted here: the host's root file system. */
  root: string;
  /** The host's console (systemd's boot messages) and the supervisor's own lines. */
  consoleLog: string;
  supervisorPid: string;
  /** Written by the supervisor for each boot. */
  nspawnPid: string;
  /** Where hostkey-changed keeps the original key while another one is presented. */
  savedHostKey: string;
}

export function hostPaths(labDir: string, name: string): HostPaths {
  const dir = path.join(labPaths(labDir).hostsDir, name);
  return {
    dir,
    upper: path.join(dir, "upper"),
    work: path.join(dir, "work"),
    root: path.join(dir, "root"),
    consoleLog: path.join(dir, "console.log"),
    supervisorPid: path.join(dir, "supervisor.pid"),
    nspawnPid: path.join(dir, "nspawn.pid"),
    savedHostKey: path.join(dir, "ssh_host_ed25519_key.original"),
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
