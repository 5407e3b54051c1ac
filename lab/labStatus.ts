// The lab's inventory, in the exact shape `status --json` prints and the
// rollout program consumes.
import * as fs from "fs";
import * as path from "path";
import { labPaths, hostPaths } from "./paths";
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

export type FaultKind = "unreachable" | "drop-mid-command" | "hostkey-changed" | "disk-full";
export const FAULT_KINDS: FaultKind[] = ["unreachable", "drop-mid-command", "hostkey-changed", "disk-full"];

export interface LabStatus {
  labDir: string;
  repoUrl: string;
  privateKeyPath: string;
  healthUrlTemplate: string;
  releases: Releases;
  hosts: LabHost[];
  /** Only hosts with at least one fault switched on. */
  faults: Record<string, FaultKind[]>;
}

/** What `up` writes once and everything else reads. */
export interface LabState {
  releases: Releases;
  hosts: LabHost[];
}

/** Persistent faults; drop-mid-command lives as a marker the host consumes. */
export type FaultState = Record<string, FaultKind[]>;

export function faultsFile(labDir: string): string {
  return path.join(labDir, "faults.json");
}

export function dropMarker(labDir: string, name: string): string {
  return path.join(hostPaths(labDir, name).run, "lab", "faults", "drop-mid-command");
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
      (k) => (persistent[h.name] ?? []).includes(k) || (k === "drop-mid-command" && fs.existsSync(dropMarker(p.labDir, h.name))),
    );
    if (kinds.length) faults[h.name] = kinds;
  }
  return {
    labDir: p.labDir,
    repoUrl: p.originRepo,
    privateKeyPath: p.privateKey,
    healthUrlTemplate: "http://{host}:8080/health",
    releases: state.releases,
    hosts: state.hosts,
    faults,
  };
}
