import { HostRecord, RolloutSummary } from "./ledger";

/**
 * Judges one stage from the records of the hosts it attempted. Unreachable and
 * rolled-back hosts both count as failed; the rate is failed / attempted, and the
 * stage halts only when the rate is strictly above the threshold.
 */
export function judgeStage(
    release: string,
    percent: number,
    cohortSize: number,
    attempted: Record<string, HostRecord>,
    threshold: number,
): RolloutSummary {
    const names = Object.keys(attempted).sort();
    const failedHosts = names.filter((n) => attempted[n].updateStatus !== "success");
    const rolledBack = names.filter((n) => attempted[n].updateStatus === "rolled_back").length;
    const failureRate = names.length === 0 ? 0 : failedHosts.length / names.length;
    return {
        release,
        percent,
        cohortSize,
        attempted: names.length,
        succeeded: names.length - failedHosts.length,
        rolledBack,
        failed: failedHosts.length,
        failedHosts,
        failureRate,
        threshold,
        halted: failureRate > threshold,
    };
}

/** The one-line verdict printed for the operator. */
export function describeVerdict(s: RolloutSummary): string {
    const rate = `${Math.round(s.failureRate * 1000) / 10}%`;
    const thr = `${Math.round(s.threshold * 1000) / 10}%`;
    if (s.attempted === 0 && !s.halted) {
        // A repeated stage: nothing to update, so nothing to count.
        return `release ${s.release.slice(0, 12)} at ${s.percent}%: every host of the stage already runs it; nothing to update.`;
    }
    const head = `release ${s.release.slice(0, 12)} at ${s.percent}%: ${s.succeeded}/${s.attempted} hosts succeeded`;
    if (s.failed === 0) {
        return `${head}.`;
    }
    const tail = `failed: ${s.failedHosts.join(", ")} (failure rate ${rate}, threshold ${thr})`;
    return s.halted ? `${head}; ROLLOUT HALTED, ${tail}.` : `${head}; ${tail}; the next pulumi up retries them.`;
}

/**
 * A stage that attempted no host says nothing new: a halted release stays halted
 * (else re-running a smaller, already-done stage would clear the halt).
 */
export function carryHalt(summary: RolloutSummary, previous: RolloutSummary | undefined): RolloutSummary {
    if (summary.attempted > 0 || !previous?.halted || previous.release !== summary.release) {
        return summary;
    }
    return { ...previous, percent: Math.max(previous.percent, summary.percent), cohortSize: summary.cohortSize };
}
