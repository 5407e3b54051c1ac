import { Ledger, RolloutSummary } from "./ledger";
import { RolloutRefused, StagePlan } from "./plan";

/**
 * Promotion gates: the rules that decide whether a release may grow from one percentage
 * to a larger one. Pure functions; the program (fleet/gates.ts) supplies the clock and
 * the readings.
 *
 * 1. Bake: the hosts already on the release must have run it for bakeSeconds (from the
 *    last one's verify, as the ledger records it) before a larger percentage starts.
 *    Checked from the ledger alone, before any host is read.
 * 2. Re-check: those hosts are read again (read-only) and must still be as their verify
 *    left them: on the commit, active, the same service invocation (not restarted since),
 *    the health URL answering with the commit, no update marker. Any regression refuses
 *    the advance; hosts that cannot be read count as failures against the threshold.
 * 3. Drift comes back: outside a promotion, a re-checked host found otherwise is updated
 *    again in this stage as a new attempt, with the reason in the outputs.
 */

/** What the re-check read on one VPS (lifecycle/recheck.ts). */
export interface RecheckReading {
    reachable: boolean;
    /** Why the VPS could not be read, as a sentence; empty when reachable. */
    reason: string;
    head: string;
    serviceState: string;
    /** systemd's InvocationID of the running service (empty where systemd cannot tell). */
    invocation: string;
    /** systemd's NRestarts of the service. */
    restarts: string;
    /** The last verify that passed on the VPS, as it recorded itself. */
    verified?: { commit: string; invocation: string; epoch: number };
    /** Present while an update runs or after one was interrupted. */
    marker: string;
    /** The health URL's answer, when one is configured. */
    health?: { url: string; ok: boolean; body: string };
}

export type RecheckFinding = { kind: "ok" } | { kind: "regressed" | "unreadable"; why: string };

const short = (sha: string) => (sha ? sha.slice(0, 12) : "nothing");

/** Everything that is no longer as the host's verify left it, in one sentence. */
export function judgeRecheck(r: RecheckReading, commit: string, service: string): RecheckFinding {
    if (!r.reachable) {
        return { kind: "unreadable", why: `could not be read: ${r.reason}` };
    }
    const regressions: string[] = [];
    if (r.head !== commit) {
        regressions.push(`runs ${short(r.head)}, not ${short(commit)} (moved since its verify)`);
    }
    if (r.serviceState !== "active") {
        regressions.push(`${service} is ${r.serviceState}`);
    }
    const v = r.verified;
    if (v && v.commit !== commit) {
        regressions.push(`its last passing verify was of ${short(v.commit)}, not ${short(commit)}`);
    } else if (v && v.invocation && r.invocation && v.invocation !== r.invocation && r.serviceState === "active") {
        const count = r.restarts && r.restarts !== "0" ? ` (systemd counts ${r.restarts} automatic restarts)` : "";
        regressions.push(`${service} was restarted since its verify${count}`);
    }
    if (r.health && !(r.health.ok && r.health.body.includes(commit))) {
        const said = r.health.body.replace(/\s+/g, " ").slice(0, 160);
        regressions.push(r.health.ok ? `health ${r.health.url} answered without the commit: ${said}` : `health ${r.health.url} failed: ${said}`);
    }
    if (r.marker) {
        regressions.push(`an update marker is present (an update runs or was interrupted): ${r.marker.slice(0, 160)}`);
    }
    return regressions.length ? { kind: "regressed", why: regressions.join("; ") } : { kind: "ok" };
}

/** Whether this stage grows the release the previous stage rolled out. */
export function isPromotion(ledger: Ledger, release: string, percent: number): boolean {
    const last = ledger.rollout;
    return !!last && last.release === release && percent > last.percent;
}

/** The hosts this stage re-checks: in the cohort, on the release by the ledger, not updated anyway. */
export function recheckTargets(plan: StagePlan): string[] {
    return plan.cohort.filter((n) => plan.hosts[n].mode === "update" && !plan.hosts[n].fresh);
}

/** When the newest host on the release passed its verify (ms since the epoch), if any did. */
export function bakeStartedAt(ledger: Ledger, release: string): number | undefined {
    const times = Object.values(ledger.hosts)
        .filter((h) => h.managed && h.targetVersion === release && h.updateStatus === "success")
        .map((h) => Date.parse(h.lastUpdateAt))
        .filter((t) => !Number.isNaN(t));
    return times.length ? Math.max(...times) : undefined;
}

export interface BakeInput {
    ledger: Ledger;
    release: string;
    percent: number;
    bakeSeconds: number;
    /** The clock, ms since the epoch. */
    now: number;
}

const duration = (ms: number) => {
    const s = Math.ceil(ms / 1000);
    return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
};
const clock = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");

/** Refuses, before any host is read, a larger percentage whose previous stage has not baked. */
export function assertBaked(input: BakeInput): void {
    const last = input.ledger.rollout;
    if (input.bakeSeconds <= 0 || !last || !isPromotion(input.ledger, input.release, input.percent)) {
        return;
    }
    const started = bakeStartedAt(input.ledger, input.release);
    if (started === undefined) {
        return;
    }
    const ready = started + input.bakeSeconds * 1000;
    if (input.now >= ready) {
        return;
    }
    throw new RolloutRefused(
        `release ${short(input.release)} has baked for ${duration(Math.max(0, input.now - started))} since its ${last.percent}% stage's last verify; ` +
            `rachel-fleet:bakeSeconds asks for ${duration(input.bakeSeconds * 1000)} before ${input.percent}% may start. ` +
            `Refusing to advance; no host was touched. Run pulumi up again in ${duration(ready - input.now)}, after ${clock(ready)} ` +
            `(or lower rachel-fleet:bakeSeconds; 0 turns the bake off).`,
    );
}

export interface PromotionInput {
    release: string;
    percent: number;
    /** The previous stage's summary (same release, smaller percentage). */
    last: RolloutSummary;
    /** The previous stage's cohort. */
    previousCohort: string[];
    ledger: Ledger;
    findings: Record<string, RecheckFinding>;
    /** failureThreshold as configured now. */
    threshold: number;
}

export interface PromotionDecision {
    refused: boolean;
    /** The operator's sentence: what was found and, when refused, why and how to go on. */
    message: string;
    /** The previous cohort's hosts that count as failed: by the ledger, or by the re-check. */
    failedHosts: string[];
    failureRate: number;
}

const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;

/** Any regression refuses the advance; unreadable hosts count against the threshold with the stage's failures. */
export function judgePromotion(p: PromotionInput): PromotionDecision {
    const found = (n: string) => p.findings[n] ?? { kind: "ok" };
    const onRelease = (n: string) => p.ledger.hosts[n]?.targetVersion === p.release && p.ledger.hosts[n]?.updateStatus === "success";
    const failedHosts = p.previousCohort.filter((n) => !onRelease(n) || found(n).kind !== "ok").sort();
    const failureRate = p.previousCohort.length ? failedHosts.length / p.previousCohort.length : 0;
    const notes = Object.entries(p.findings).filter(([, f]) => f.kind !== "ok").map(([n, f]) => `${n} ${(f as { why: string }).why}`);
    const regressed = Object.values(p.findings).filter((f) => f.kind === "regressed").length;
    const head = `the re-check of release ${short(p.release)} before ${p.percent}%`;
    if (notes.length === 0) {
        return { refused: false, message: `${head}: every host of the ${p.last.percent}% stage is still as its verify left it.`, failedHosts, failureRate };
    }
    const rate = `${failedHosts.length} of ${p.previousCohort.length} hosts of the ${p.last.percent}% stage count as failed (${pct(failureRate)}, threshold ${pct(p.threshold)})`;
    const refused = regressed > 0 || failureRate > p.threshold;
    const why = regressed > 0 ? `a host that regressed after its stage refuses the advance` : rate;
    const message = refused
        ? `${head} found: ${notes.join("; ")}. ${why[0].toUpperCase()}${why.slice(1)}. Refusing to advance to ${p.percent}%; no host was touched.`
        : `${head} found: ${notes.join("; ")}. ${rate[0].toUpperCase()}${rate.slice(1)}: advancing; those hosts are updated again in this stage.`;
    return { refused, message, failedHosts, failureRate };
}

/** The rollout output after a refused advance: the previous stage, halted, with what the re-check found. */
export function refusedSummary(p: PromotionInput, d: PromotionDecision): RolloutSummary {
    const recheck = Object.fromEntries(Object.entries(p.findings).filter(([, f]) => f.kind !== "ok").map(([n, f]) => [n, (f as { why: string }).why]));
    return {
        ...p.last,
        cohortSize: p.previousCohort.length,
        attempted: p.previousCohort.length,
        succeeded: p.previousCohort.length - d.failedHosts.length,
        failed: d.failedHosts.length,
        failedHosts: d.failedHosts,
        failureRate: d.failureRate,
        threshold: p.threshold,
        halted: true,
        recheck,
        refusal: d.message,
    };
}
