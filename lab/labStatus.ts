// The lab's inventory, in the exact shape `status --json` prints and the
// rollout program consumes.
import * as fs from "fs";
import * as path from "path";
import { labPaths } from "./paths";
import { leaderPid } from "./container";
import { APP_PORT } from "./hostFiles";
import type { Releases } from "./releases";

export interface LabHost {
  name: string;
  /** 127.0.1.<i> */
  host: string;
  port: number;
  user: string;
  /** The host's original public key, "ssh-ed25519 AAAA…" (no comment): what a client must pin. */
  hostKey: string;
}

/**
 * unreachable: the host is powered off; sshd-stopped: `systemctl stop ssh`, the app runs on;
 * crash-loop: the service dies a second after each start and systemd restarts it (Restart=on-failure);
 * drop-mid-command, reboot-mid-update: one-shot, fired by the next `bun install`;
 * hostkey-changed: sshd presents a new key; disk-full: the app directory has no space left.
 */
export type FaultKind = "unreachable" | "sshd-stopped" | "crash-loop" | "drop-mid-command" | "reboot-mid-update" | "hostkey-changed" | "disk-full";
export const FAULT_KINDS: FaultKind[] = ["unreachable", "sshd-stopped", "crash-loop", "drop-mid-command", "reboot-mid-update", "hostkey-changed", "disk-full"];
/** Faults that live as a marker in the host's /run until its bun wrapper claims it. */
export const ONE_SHOT_FAULTS: FaultKind[] = ["drop-mid-command", "reboot-mid-update"];

export interface LabStatus {
  labDir: string;
  repoUrl: string;
  privateKeyPath: string;
  healthUrlTemplate: string;
  releases: Releases;
  hosts: LabHost[];
  baseRoot: string;
  /** Only hosts with at least one fault switched on. */
  faults: Record<string, FaultKind[]>;
}

/** What `up` writes once and everything else reads. */
export interface LabState {
  releases: Releases;
  hosts: LabHost[];
  /** The shared Debian root file system every host's overlay lies on. */
  baseRoot: string;
}

/** Persistent faults; the one-shot ones live as markers the host consumes. */
export type FaultState = Record<string, FaultKind[]>;

export function faultsFile(labDir: string): string {
  return path.join(labDir, "faults.json");
}

/** A one-shot fault's marker as this machine sees it (through the host's PID 1), or null while the host is down. */
export function oneShotMarker(labDir: string, name: string, kind: FaultKind): string | null {
  const leader = leaderPid(labDir, name);
  return leader ? `/proc/${leader}/root/run/lab/faults/${kind}` : null;
}

export function readFaultState(labDir: string): FaultState {
  try {
    return JSON.parse(fs.readFileSync(faultsFile(labDir), "utf8"));
  } catch {
    return {};
  }
}

export function writeFaultState(labDir: string, faults: FaultState): void {
  fs.writeFileSync(faultsFile(labDir), JSON.stringify(faults, null, 2) + "\n");
}

export function readLabStatus(labDir?: string): LabStatus {
  const p = labPaths(labDir);
  let state: LabState;
  try {
    state = JSON.parse(fs.readFileSync(p.stateFile, "utf8"));
  } catch {
    throw new Error(`no lab is up at ${p.labDir} (missing ${p.stateFile}); run: npm run lab -- up`);
  }
  const persistent = readFaultState(p.labDir);
  const faults: Record<string, FaultKind[]> = {};
  for (const h of state.hosts) {
    const kinds = FAULT_KINDS.filter(
      (k) => (persistent[h.name] ?? []).includes(k) || (ONE_SHOT_FAULTS.includes(k) && fs.existsSync(oneShotMarker(p.labDir, h.name, k) ?? "/nonexistent")),
    );
    if (kinds.length) faults[h.name] = kinds;
  }
  return {
    labDir: p.labDir,
    repoUrl: p.originRepo,
    privateKeyPath: p.privateKey,
    healthUrlTemplate: `http://{host}:${APP_PORT}/health`,
    releases: state.releases,
    hosts: state.hosts,
    baseRoot: state.baseRoot,
    faults,
  };
}
