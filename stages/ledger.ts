/**
 * What the previous `pulumi up` of this stack recorded, read back from the stack's own
 * outputs. It is the program's memory between stages: which hosts already have update
 * resources, which attempt each host is on, and whether the rollout was halted.
 */
import { randomBytes } from "crypto";

export type UpdateStatus = "idle" | "updating" | "success" | "failed" | "rolled_back";

/**
 * Where a VPS this stack provisions is on its way from order to ready: its server being
 * created, cloud-init running on it, its secrets going in (the first update: environment,
 * restart, verify), ready; or failed in one of those.
 */
export type ProvisioningPhase = "creating" | "cloud-init" | "secrets" | "ready" | "failed" | "deprovisioned";

export interface Provisioning {
    phase: ProvisioningPhase;
    /** The phase a failed VPS failed in. */
    failedIn?: Exclude<ProvisioningPhase, "ready" | "failed" | "deprovisioned">;
    /** When it was first ready (ISO time). */
    provisionedAt?: string;
    /** When the up that deleted it ran (ISO time); the record is kept until the next release. */
    deprovisionedAt?: string;
}

/** The version-tracking fields of one VPS, as exported under the `fleet` output. */
export interface HostRecord {
    currentVersion: string;
    previousVersion: string;
    targetVersion: string;
    updateStatus: UpdateStatus;
    lastUpdateAt: string;
    /** Why the last attempt failed or was rolled back; empty on success. */
    error: string;
    /** Which attempt at `targetVersion` the host's update resources are keyed on. */
    attempt: number;
    /** Whether the host has update resources in the stack (it has been in a cohort). */
    managed: boolean;
    /** Only for a VPS this stack provisions. */
    provisioning?: Provisioning;
}

/** The `rollout` output: one stage's outcome. */
export interface RolloutSummary {
    release: string;
    percent: number;
    cohortSize: number;
    attempted: number;
    succeeded: number;
    rolledBack: number;
    failed: number;
    failedHosts: string[];
    failureRate: number;
    threshold: number;
    halted: boolean;
    /**
     * Hosts the re-check found not as the ledger had them, and what it found
     * (stages/gate.ts): updated again in this stage, or the reason an advance was refused.
     */
    recheck?: Record<string, string>;
    /** Why the advance to a larger percentage was refused (the re-check), when it was. */
    refusal?: string;
}

export interface Ledger {
    hosts: Record<string, HostRecord>;
    rollout?: RolloutSummary;
    /** The stack's own id (the `stackId` output), once an up has exported it. */
    stackId?: string;
    /** Each VPS's environment digest as last delivered (the secret `envDigests` output). */
    envDigests?: Record<string, string>;
}


/** Accepts whatever the stack's outputs hold (nothing, on a new stack) and keeps what is well-formed. */
export function ledgerFromOutputs(fleet: unknown, rollout: unknown, stackId?: unknown, envDigests?: unknown): Ledger {
    const hosts: Record<string, HostRecord> = {};
    if (fleet && typeof fleet === "object") {
        for (const [name, rec] of Object.entries(fleet as Record<string, any>)) {
            if (rec && typeof rec === "object" && typeof rec.targetVersion === "string") {
                hosts[name] = {
                    currentVersion: String(rec.currentVersion ?? ""),
                    previousVersion: String(rec.previousVersion ?? ""),
                    targetVersion: rec.targetVersion,
                    updateStatus: (rec.updateStatus ?? "idle") as UpdateStatus,
                    lastUpdateAt: String(rec.lastUpdateAt ?? ""),
                    error: String(rec.error ?? ""),
                    attempt: Number.isInteger(rec.attempt) ? rec.attempt : 0,
                    managed: rec.managed === true,
                    ...(provisioningOf(rec.provisioning) ? { provisioning: provisioningOf(rec.provisioning) } : {}),
                };
            }
        }
    }
    const r = rollout as RolloutSummary | undefined;
    const valid = r && typeof r === "object" && typeof r.release === "string" && typeof r.halted === "boolean";
    const id = typeof stackId === "string" && STACK_ID.test(stackId) ? { stackId } : {};
    const digests = envDigests && typeof envDigests === "object"
        ? { envDigests: Object.fromEntries(Object.entries(envDigests as Record<string, unknown>).filter(([, d]) => typeof d === "string")) as Record<string, string> }
        : {};
    return valid ? { hosts, rollout: r, ...id, ...digests } : { hosts, ...id, ...digests };
}

const STACK_ID = /^[0-9a-f]{8}$/;
const PHASES = new Set(["creating", "cloud-init", "secrets", "ready", "failed", "deprovisioned"]);

function provisioningOf(p: unknown): Provisioning | undefined {
    if (!p || typeof p !== "object" || !PHASES.has((p as Provisioning).phase)) return undefined;
    const { phase, failedIn, provisionedAt, deprovisionedAt } = p as Provisioning;
    return {
        phase,
        ...(failedIn && PHASES.has(failedIn) ? { failedIn } : {}),
        ...(typeof provisionedAt === "string" ? { provisionedAt } : {}),
        ...(typeof deprovisionedAt === "string" ? { deprovisionedAt } : {}),
    };
}

/**
 * The id that makes an attempt's name on a VPS this stack's own: made by the stack's first
 * up and then kept as its `stackId` output. A second stack over the same hosts, or this one
 * re-created after its state was lost, has another, so it never takes an attempt it did not
 * make (concluded, on the VPS) for its own. It lives in the outputs rather than in a
 * resource so that the first host's prepare need not wait for a provider process to start.
 */
export function stackIdOf(ledger: Ledger): string {
    return ledger.stackId ?? randomBytes(4).toString("hex");
}
