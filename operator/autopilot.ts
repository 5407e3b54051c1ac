import { Ledger, RolloutSummary, ledgerFromOutputs } from "../stages/ledger";
import { bakeStartedAt } from "../stages/gate";
import { describeVerdict } from "../stages/verdict";

/**
 * The autopilot: one release through its stages (10 → 50 → 100 %), each stage an ordinary
 * `pulumi up` of the stack at that percentage, so the CLI, the stack's history and the
 * console see the same thing. Between stages it waits out the bake; then the program's own
 * gates decide (this adds no rule of its own: whatever the program refuses, it stops on).
 * It stops on a halt, a refused advance, an error, or the operator's abort, and says why in
 * a sentence; a pause holds it between stages. Everything it knows it reads back from the
 * stack, so a killed driver resumes where the stack is.
 */

/** The stack as the autopilot uses it (the Automation API in rolloutCli.ts; a fake in tests). */
export interface StackPort {
    /** The stack's outputs (`fleet`, `rollout`), read without decrypting anything. */
    outputs(): Promise<{ fleet?: unknown; rollout?: unknown }>;
    /** The stage the config asks for now, and the bake (plain keys only). */
    stageConfig(): Promise<{ targetCommit?: string; rolloutPercent?: string; bakeSeconds?: number }>;
    /** Sets targetCommit and rolloutPercent. */
    setStage(commit: string, percent: string): Promise<void>;
    /** `pulumi up`; rejects with the engine's message when the program refused or failed. */
    up(): Promise<void>;
    /**
     * Given the engine's "locked" message: releases the lock (pulumi cancel) when the process
     * that took it is gone (a killed `up` on this machine); true when it did.
     */
    releaseStaleLock(message: string): Promise<boolean>;
}

export type Request = "run" | "pause" | "abort";

export interface Reporter {
    /** A line for the operator. */
    say(line: string): void;
    /** The autopilot's state, for a second terminal and the console. */
    state(s: AutopilotState): void;
    /** A stage ended, the release halted or was refused, or completed: for notifyUrl. */
    event(e: AutopilotEvent): void;
}

export interface AutopilotState {
    state: "running" | "waiting for the bake" | "paused" | "stopped" | "complete";
    release: string;
    stage: number;
    stages: number[];
    /** Why it stopped, in a sentence; the bake's end while waiting (ISO time). */
    message: string;
    bakeEndsAt?: string;
    /** The stages run so far (operator/timeline.ts). */
    timeline?: StageLine[];
}

/** One stage of a release as it ran (kept by operator/timeline.ts). */
export interface StageLine {
    percent: number;
    startedAt: string;
    endedAt?: string;
    outcome?: AutopilotEvent["event"];
    /** A stage that ran: e.g. "5/5 succeeded, 0 rolled back, 0 failed"; one that did not: why. */
    summary?: string;
}

export interface AutopilotEvent {
    event: "stage done" | "halted" | "advance refused" | "release complete" | "stopped";
    release: string;
    stage: number;
    attempted: number;
    succeeded: number;
    rolledBack: number;
    failed: number;
    failedHosts: { host: string; status: string; error: string }[];
    message: string;
}

export interface Autopilot {
    stack: StackPort;
    report: Reporter;
    /** The operator's latest request (a second terminal, the console). */
    request(): Request;
    now(): number;
    sleep(ms: number): Promise<void>;
}

export interface Outcome {
    state: "complete" | "halted" | "refused" | "failed" | "aborted";
    stage: number;
    message: string;
}

/** The stages a release runs through, from `--stages 10,50,100` and `--to N`: rising whole percentages ending at the last. */
export function stagesOf(list: string | undefined, to?: number): number[] {
    const stages = (list ? list.split(",").map(Number) : [10, 50, 100]).filter((s) => to === undefined || s <= to);
    if (to !== undefined && !stages.includes(to)) stages.push(to);
    if (stages.length === 0 || stages.some((s, i) => !Number.isInteger(s) || s < 1 || s > 100 || (i > 0 && s <= stages[i - 1]))) {
        throw new StagesError(`the stages must be rising whole percentages from 1 to 100 (got ${stages.join(",") || "none"}); e.g. 10,50,100`);
    }
    return stages;
}

export class StagesError extends Error {}

/** The stage to run next for `release`, from what the stack records; undefined when none is left. */
export function nextStage(rollout: RolloutSummary | undefined, release: string, stages: number[]): number | undefined {
    if (!rollout || rollout.release !== release) return stages[0];
    return stages.find((s) => s > rollout.percent);
}

/** Runs `release` through `stages` from where the stack is; resolves when it completes or stops. */
export async function driveRelease(release: string, stages: number[], a: Autopilot): Promise<Outcome> {
    let stage = 0;
    let lockedSince: number | undefined;
    let staleReleases = 0;
    const state = (s: AutopilotState["state"], message = "", bakeEndsAt?: string) =>
        a.report.state({ state: s, release, stage, stages, message, ...(bakeEndsAt ? { bakeEndsAt } : {}) });
    const stop = (o: Outcome): Outcome => {
        state(o.state === "complete" ? "complete" : "stopped", o.message);
        a.report.say(o.message);
        return o;
    };
    for (;;) {
        const ledger = ledgerOf(await a.stack.outputs());
        const last = ledger.rollout?.release === release ? ledger.rollout : undefined;
        if (last?.halted) {
            return stop({ state: last.refusal ? "refused" : "halted", stage: last.percent, message: haltSentence(last) });
        }
        const next = nextStage(ledger.rollout, release, stages);
        if (next === undefined) {
            return stop({ state: "complete", stage: last?.percent ?? 0, message: `release ${short(release)} is at ${last?.percent}%: complete` });
        }
        stage = next;
        const held = await holdFor(a, release, next, last !== undefined ? ledger : undefined, state);
        if (held) return stop(held);
        state("running");
        a.report.say(`release ${short(release)}: the ${next}% stage starts (pulumi up)`);
        const ran = await runStage(a, release, next);
        if (typeof ran === "object" && "locked" in ran) {
            // A lock whose taker is gone is released (a few times at most: one that keeps
            // coming back belongs to a live update, and is waited for).
            if (staleReleases < 3 && (await a.stack.releaseStaleLock(ran.locked))) {
                staleReleases++;
                a.report.say(`the stack's lock was left by a pulumi that is gone (a killed up): released it with pulumi cancel; its hosts resume their attempts`);
                continue;
            }
            // Another update holds the stack: a driver killed mid-stage leaves its `pulumi up`
            // running to the end. Wait for it, then read again what the stack records.
            lockedSince ??= a.now();
            if (a.now() - lockedSince > LOCK_PATIENCE_MS) {
                return stop({ state: "failed", stage: next, message: `the stack has been locked by another update for over ${LOCK_PATIENCE_MS / 60000} minutes; if no pulumi command runs on it any more, pulumi cancel releases a stale lock, then npm run rollout -- --resume` });
            }
            if (lockedSince === a.now()) a.report.say("the stack is locked by another update (a driver killed mid-stage leaves its pulumi up running to the end): waiting for it, then going on from what it recorded");
            await a.sleep(5000);
            continue;
        }
        lockedSince = undefined;
        if (ran) return stop(ran as Outcome);
        const done = ledgerOf(await a.stack.outputs()).rollout;
        if (done && done.release === release && !done.halted) {
            a.report.event(eventOf("stage done", done, ledgerOf(await a.stack.outputs()), describeVerdict(done)));
            if (stages.indexOf(next) === stages.length - 1) {
                a.report.event(eventOf("release complete", done, ledgerOf(await a.stack.outputs()), `release ${short(release)} is at ${next}%: complete`));
            }
        } else if (done?.halted) {
            a.report.event(eventOf(done.refusal ? "advance refused" : "halted", done, ledgerOf(await a.stack.outputs()), haltSentence(done)));
        }
    }
}

/**
 * Before a stage: the operator's pause and abort, then the bake of the previous stage
 * (when there was one). Resolves with an outcome only when the release must stop.
 */
async function holdFor(a: Autopilot, release: string, stage: number, ledger: Ledger | undefined, state: (s: AutopilotState["state"], m?: string, b?: string) => void): Promise<Outcome | undefined> {
    const bakeSeconds = (await a.stack.stageConfig()).bakeSeconds ?? 0;
    const started = ledger ? bakeStartedAt(ledger, release) : undefined;
    const bakeEnds = started === undefined || bakeSeconds <= 0 ? 0 : started + bakeSeconds * 1000;
    for (let said = 0; ; ) {
        const req = a.request();
        if (req === "abort") return { state: "aborted", stage, message: `aborted by the operator before the ${stage}% stage; no host was touched by this driver since` };
        if (req === "pause") {
            if (said !== -1) (state("paused", `paused before the ${stage}% stage`), a.report.say(`paused before the ${stage}% stage; npm run rollout -- --resume goes on`));
            said = -1;
        } else if (a.now() < bakeEnds) {
            if (said !== 1) (state("waiting for the bake", "", new Date(bakeEnds).toISOString()), a.report.say(`waiting for the bake: the ${stage}% stage may start after ${new Date(bakeEnds).toISOString()}`));
            said = 1;
        } else {
            return undefined;
        }
        await a.sleep(500);
    }
}

/** How long the autopilot waits for a stack another update holds. */
const LOCK_PATIENCE_MS = 60 * 60_000;

/**
 * One stage: the config asks for it, `up` runs it. A refused or failed run leaves the config
 * as it was; `locked` (the engine's message) when another update held the stack (nothing ran).
 */
async function runStage(a: Autopilot, release: string, stage: number): Promise<Outcome | { locked: string } | undefined> {
    const before = await a.stack.stageConfig();
    await a.stack.setStage(release, String(stage));
    try {
        await a.stack.up();
        return undefined;
    } catch (e) {
        const restore = () => a.stack.setStage(before.targetCommit ?? release, before.rolloutPercent ?? String(stage));
        const rollout = ledgerOf(await a.stack.outputs()).rollout;
        if (rollout?.release === release && rollout.halted) {
            // The stage halted (its verdict fails `up`), or the re-check refused the advance
            // (no stage ran: the config goes back): the loop reports either.
            if (rollout.percent !== stage) await restore();
            return undefined;
        }
        await restore();
        if (lockedByAnother((e as Error).message) || (e as Error).name === "ConcurrentUpdateError") return { locked: (e as Error).message };
        const why = firstError((e as Error).message);
        a.report.event({ event: "stopped", release, stage, attempted: 0, succeeded: 0, rolledBack: 0, failed: 0, failedHosts: [], message: why });
        return { state: /refus|halted|locked/i.test(why) ? "refused" : "failed", stage, message: `the ${stage}% stage did not run: ${why}` };
    }
}

function ledgerOf(o: { fleet?: unknown; rollout?: unknown }): Ledger {
    return ledgerFromOutputs(o.fleet, o.rollout);
}

function eventOf(event: AutopilotEvent["event"], r: RolloutSummary, ledger: Ledger, message: string): AutopilotEvent {
    return {
        event, release: r.release, stage: r.percent, attempted: r.attempted, succeeded: r.succeeded, rolledBack: r.rolledBack, failed: r.failed,
        failedHosts: r.failedHosts.map((h) => ({ host: h, status: ledger.hosts[h]?.updateStatus ?? "failed", error: ledger.hosts[h]?.error ?? "" })),
        message,
    };
}

function haltSentence(r: RolloutSummary): string {
    return r.refusal ? `release ${short(r.release)} stays at ${r.percent}%: ${r.refusal}` : describeVerdict(r);
}

/** Whether the engine refused a run because another update holds the stack's lock. */
export function lockedByAnother(message: string): boolean {
    return /currently locked|ConcurrentUpdateError|Another update is currently in progress/i.test(message);
}

/** The engine's message, reduced to the program's own sentence. */
export function firstError(message: string): string {
    const lines = message.split("\n").map((l) => l.trim());
    return (lines.find((l) => /^error: /.test(l) && !/update failed|preview failed/.test(l))?.replace(/^error: /, "") ?? lines.find(Boolean) ?? message).slice(0, 1000);
}

const short = (sha: string) => sha.slice(0, 12);
