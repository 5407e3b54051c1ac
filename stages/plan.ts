import { cohortFor, rolloutOrder } from "./cohort";
import { HostRecord, Ledger } from "./ledger";

/**
 * update:    in the cohort; its resources are keyed on (target, attempt). Only a
 *            `fresh` one changes in this stage; the others are registered unchanged.
 * hold:      out of the cohort but already managed: its resources are registered
 *            unchanged (ignoreChanges), so preview shows nothing for it.
 * untracked: out of the cohort and never managed: no resources at all yet.
 */
export type HostMode = "update" | "hold" | "untracked";

export interface HostPlan {
    name: string;
    mode: HostMode;
    /** The attempt the update resources are keyed on; a failed host is retried with attempt + 1. */
    attempt: number;
    /** Whether this stage runs the host's update (new target, new attempt, or first time managed). */
    fresh: boolean;
    /** The commit the host's resources are keyed on: the stage's target, or for a held host the one it holds. */
    target: string;
    /** Why a host the ledger had on the target is updated again (the re-check found it otherwise). */
    redo?: string;
    /**
     * The update changes the VPS's environment and not its release: the host was on its
     * commit already (or is held on it). Allowed at any stage; not part of the release's verdict.
     */
    envOnly?: boolean;
    /**
     * A VPS this stack provisions that is not ready yet: updated in this up whatever the
     * stage (to the release, its secrets in, verified), and not part of the release's verdict.
     */
    provisioning?: boolean;
}

export interface StagePlan {
    release: string;
    percent: number;
    /** The release's full rollout order; the cohort is its prefix. */
    order: string[];
    cohort: string[];
    hosts: Record<string, HostPlan>;
    warnings: string[];
}

export interface StageInput {
    hostNames: readonly string[];
    target: string;
    percent: number;
    ledger: Ledger;
    overrideHalt: boolean;
    /** Each VPS's environment digest as configured now (config/env.ts); absent: none. */
    envDigests?: Record<string, string>;
    /** The VPSs this stack provisions. */
    provisioned?: readonly string[];
    /** What the promotion gates found (fleet/gates.ts), once they have looked. */
    gate?: GateFindings;
    /** The fleet's halt when this stack is one shard of several (npm run fleet). */
    fleetHalt?: { release: string; percent: number; reason: string };
}

/**
 * The gates' findings as the plan takes them: hosts to update again (the re-check found
 * them otherwise: host → why), or a refused advance, which holds every host where the
 * ledger has it and leaves the stage at the one before.
 */
export interface GateFindings {
    redo?: Record<string, string>;
    refusedAt?: { percent: number; cohort: string[] };
}

/** Thrown before any resource is registered: the rollout must not advance. */
export class RolloutRefused extends Error {}

const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;

/** What a halted or refused release offers the operator, as config commands. */
export function waysForward(percent: number): string {
    return `To go on, either fix forward with a new commit (pulumi config set rachel-fleet:targetCommit <sha> && ` +
        `pulumi config set rachel-fleet:rolloutPercent 10), retry the ${percent}% stage ` +
        `(pulumi config set rachel-fleet:rolloutPercent ${percent}), or override ` +
        `(pulumi config set rachel-fleet:overrideHalt true).`;
}

/** Refuses to advance a halted release unless the operator overrides. */
export function assertMayAdvance(input: StageInput): string[] {
    const fleet = input.fleetHalt;
    if (fleet && fleet.release === input.target && input.percent > fleet.percent) {
        const what = `the rollout of ${input.target.slice(0, 12)} is halted across the fleet: ${fleet.reason}`;
        if (input.overrideHalt) return [`${what} Advancing to ${input.percent}% anyway because rachel-fleet:overrideHalt is true.`];
        throw new RolloutRefused(`${what} Refusing to advance to ${input.percent}%; no host was touched. ${waysForward(fleet.percent)}`);
    }
    const last = input.ledger.rollout;
    if (!last || !last.halted || last.release !== input.target || input.percent <= last.percent) {
        return [];
    }
    const what = last.refusal
        ? `the rollout of ${input.target.slice(0, 12)} is halted: ${last.refusal}`
        : `the rollout of ${input.target.slice(0, 12)} is halted: the ${last.percent}% stage failed on ` +
          `${last.failed} of ${last.attempted} hosts (${pct(last.failureRate)} > threshold ${pct(last.threshold)}): ` +
          `${last.failedHosts.join(", ")}.`;
    if (input.overrideHalt) {
        return [`${what} Advancing to ${input.percent}% anyway because rachel-fleet:overrideHalt is true.`];
    }
    throw new RolloutRefused(`${what} Refusing to advance to ${input.percent}%; no host was touched. ${waysForward(last.percent)}`);
}

/** A provisioned VPS is ready once its first update succeeded (one from before phases were kept: once managed and successful). */
function isReady(rec: HostRecord | undefined): boolean {
    return rec?.provisioning ? rec.provisioning.phase === "ready" : rec?.managed === true && rec.updateStatus === "success";
}

export function planStage(input: StageInput): StagePlan {
    const warnings = assertMayAdvance(input);
    const last = input.ledger.rollout;
    if (last && last.release !== input.target && input.percent > 10) {
        warnings.push(
            `a new release ${input.target.slice(0, 12)} starts at ${input.percent}% rather than 10%: ` +
                `${input.percent}% of the fleet updates in this one stage.`,
        );
    }
    const order = rolloutOrder(input.hostNames, input.target);
    const cohort = cohortFor(input.percent, input.hostNames, input.target);
    const inCohort = new Set(cohort);
    const hosts: Record<string, HostPlan> = {};
    for (const name of order) {
        const rec = input.ledger.hosts[name];
        const envChanged = (input.envDigests?.[name] ?? "") !== (input.ledger.envDigests?.[name] ?? "");
        if (input.provisioned?.includes(name) && !isReady(rec)) {
            hosts[name] = { name, mode: "update", attempt: (rec?.attempt ?? 0) + 1, fresh: true, target: input.target, provisioning: true };
        } else if (inCohort.has(name)) {
            const sameTarget = rec?.managed && rec.targetVersion === input.target;
            // Attempts count up per host across releases, so an attempt id (commit, attempt)
            // is never reused when a host goes back to a commit it ran before.
            const attempt = !sameTarget ? (rec?.attempt ?? 0) + 1 : rec.updateStatus === "success" && !envChanged ? Math.max(1, rec.attempt) : rec.attempt + 1;
            const fresh = !sameTarget || attempt !== rec.attempt;
            const envOnly = sameTarget && rec.updateStatus === "success" && envChanged;
            hosts[name] = { name, mode: "update", attempt, fresh, target: input.target, ...(envOnly ? { envOnly } : {}) };
        } else if (rec?.managed && envChanged) {
            // A held VPS gets its new environment on the release it runs now.
            const runs = /^[0-9a-f]{40}$/.test(rec.currentVersion) ? rec.currentVersion : rec.targetVersion;
            hosts[name] = { name, mode: "hold", attempt: rec.attempt + 1, fresh: true, target: runs, envOnly: true };
        } else if (rec?.managed) {
            hosts[name] = { name, mode: "hold", attempt: rec.attempt, fresh: false, target: rec.targetVersion };
        } else {
            hosts[name] = { name, mode: "untracked", attempt: 0, fresh: false, target: "" };
        }
    }
    if (input.gate?.refusedAt) {
        return { release: input.target, percent: input.gate.refusedAt.percent, order, cohort: input.gate.refusedAt.cohort, hosts: heldAsRecorded(order, input.ledger), warnings };
    }
    for (const [n, why] of Object.entries(input.gate?.redo ?? {})) {
        if (hosts[n]) hosts[n] = { ...hosts[n], fresh: true, attempt: hosts[n].attempt + 1, redo: why };
    }
    return { release: input.target, percent: input.percent, order, cohort, hosts, warnings };
}

/** A refused advance changes nothing: every managed host is held where the ledger has it. */
function heldAsRecorded(order: string[], ledger: Ledger): Record<string, HostPlan> {
    return Object.fromEntries(order.map((n) => {
        const rec = ledger.hosts[n];
        const p: HostPlan = rec?.managed
            ? { name: n, mode: "hold", attempt: rec.attempt, fresh: false, target: rec.targetVersion }
            : { name: n, mode: "untracked", attempt: 0, fresh: false, target: "" };
        return [n, p];
    }));
}
