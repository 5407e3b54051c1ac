import { FleetHalt } from "../config/config";
import { RolloutSummary } from "../stages/ledger";
import { describeVerdict } from "../stages/verdict";

/**
 * One stage of a sharded fleet, judged as one: the shards run a bounded number at once (each
 * an ordinary `pulumi up` of its stack); the failure threshold applies to the whole fleet.
 * No further shard starts once a shard halted on its own verdict (a stricter judge than the
 * fleet's: its hosts are a sample of the same release), a shard refused or failed, or the
 * stage's failures already exceed the fleet's budget (threshold × the hosts the stage plans
 * to update); the release is then halted for every shard. A shard locked by another update
 * (another operator's driver) runs nothing and halts nothing, and no further shard starts:
 * the stage is incomplete, to be run again once the other driver has finished.
 */

export interface ShardRun {
    name: string;
    /** Hosts this stage plans to update in the shard (its cohort's fresh ones): the budget's base. */
    planned: number;
    run(): Promise<ShardResult>;
}

export interface ShardResult {
    name: string;
    outcome: "ran" | "halted" | "refused" | "locked" | "failed";
    /** The shard's `rollout` output after the run, when it recorded this stage. */
    rollout?: RolloutSummary;
    /** One line: the shard's verdict, or why nothing ran. */
    message: string;
}

export interface FleetStage {
    release: string;
    percent: number;
    threshold: number;
    shards: ShardRun[];
    /** How many shards run at once. */
    parallel: number;
    say(line: string): void;
}

export interface FleetOutcome {
    /** The fleet's summary: every shard's stage added up (failed hosts named with their shard). */
    summary: RolloutSummary;
    results: ShardResult[];
    /** Shards the driver did not start because the stage had already failed. */
    notStarted: string[];
    locked: ShardResult[];
    halted: boolean;
    /** The fleet's verdict in a sentence (what a halted shard's later `up` repeats). */
    sentence: string;
}

/** Runs the stage over the shards and judges it; never throws for a shard's failure. */
export async function runFleetStage(s: FleetStage): Promise<FleetOutcome> {
    const results: ShardResult[] = [];
    const budget = s.threshold * s.shards.reduce((n, x) => n + x.planned, 0);
    const failures = () => results.reduce((n, r) => n + (r.rollout && ranThisStage(r, s) ? r.rollout.failed : 0), 0);
    // A locked shard means another driver (another operator) runs the fleet: start no more either.
    const stop = () => results.some((r) => r.outcome !== "ran") || failures() > budget;
    const queue = [...s.shards];
    const notStarted: string[] = [];
    const worker = async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
            if (stop()) {
                notStarted.push(next.name);
                continue;
            }
            const r = await next.run().catch((e): ShardResult => ({ name: next!.name, outcome: "failed", message: (e as Error).message.split("\n")[0] }));
            results.push(r);
            s.say(`${r.name}: ${r.message} [${results.length}/${s.shards.length} shards]`);
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(s.parallel, s.shards.length)) }, worker));
    return judgeFleet(s, results, notStarted.sort());
}

const ranThisStage = (r: ShardResult, s: { release: string; percent: number }) => r.rollout?.release === s.release && r.rollout.percent === s.percent && !r.rollout.refusal;

/** The shards' summaries of this stage, added up into the fleet's. */
export function combineRollouts(release: string, percent: number, threshold: number, shards: { name: string; rollout?: RolloutSummary }[]): RolloutSummary {
    const ran = shards.filter((x) => x.rollout?.release === release && x.rollout.percent === percent && !x.rollout.refusal);
    const sum = (k: "cohortSize" | "attempted" | "succeeded" | "rolledBack" | "failed") => ran.reduce((n, x) => n + x.rollout![k], 0);
    const attempted = sum("attempted");
    const failed = sum("failed");
    const failureRate = attempted === 0 ? 0 : failed / attempted;
    return {
        release, percent, cohortSize: sum("cohortSize"), attempted, succeeded: sum("succeeded"), rolledBack: sum("rolledBack"), failed,
        failedHosts: ran.flatMap((x) => x.rollout!.failedHosts.map((h) => `${h} (${x.name})`)), failureRate, threshold,
        halted: failureRate > threshold || ran.some((x) => x.rollout!.halted),
    };
}

/**
 * Where a sharded fleet is with `release`: the stage every shard has run (a shard's stage
 * above the others' counts once they all have: the autopilot then runs the lower stage again
 * and skips no shard's verdict), none while a shard has not run the release, or the stage
 * the fleet's driver halted the release at.
 */
export function fleetRollout(release: string, percent: number, threshold: number, shards: { name: string; rollout?: RolloutSummary }[], halt?: FleetHalt): RolloutSummary | undefined {
    if (halt?.release === release) return { ...combineRollouts(release, halt.percent, threshold, shards), halted: true };
    // A missing or bad percentage in the config (the program refuses it at the next run) caps
    // nothing: the shards' records alone say where the fleet is.
    const asked = Number.isFinite(percent) && percent > 0 ? percent : 100;
    const at = Math.min(asked, ...shards.map((x) => (x.rollout?.release === release ? x.rollout.percent : 0)));
    return at === 0 ? undefined : combineRollouts(release, at, threshold, shards);
}

function judgeFleet(s: FleetStage, results: ShardResult[], notStarted: string[]): FleetOutcome {
    const ordered = [...results].sort((a, b) => a.name.localeCompare(b.name));
    const summary = combineRollouts(s.release, s.percent, s.threshold, ordered);
    const locked = ordered.filter((r) => r.outcome === "locked");
    const stopped = ordered.filter((r) => r.outcome === "refused" || r.outcome === "failed");
    const halted = summary.halted || stopped.length > 0 || (notStarted.length > 0 && locked.length === 0);
    const where = `release ${s.release.slice(0, 12)} at ${s.percent}% across ${s.shards.length} shard${s.shards.length === 1 ? "" : "s"}:`;
    // A stage that updated nothing (refused everywhere, or nothing started) says so rather than "0/0 hosts succeeded".
    const head = summary.attempted === 0 && halted ? `${where} no host was updated.` : describeVerdict({ ...summary, halted }).replace(`release ${s.release.slice(0, 12)} at ${s.percent}%:`, where);
    const parts = [head];
    for (const r of ordered.filter((x) => x.outcome === "halted" && !summary.halted && x.rollout)) parts.push(`${r.name} halted on its own verdict (${r.rollout!.failed}/${r.rollout!.attempted} failed).`);
    for (const r of stopped) parts.push(`${r.name}: ${r.message}`);
    for (const r of locked) parts.push(`${r.name} did not run: ${r.message}.`);
    if (notStarted.length) parts.push(`Not started: ${notStarted.join(", ")} (${halted ? "the stage had already failed" : "another update holds the fleet: run npm run fleet again once it has finished"}).`);
    return { summary: { ...summary, halted }, results: ordered, notStarted, locked, halted, sentence: parts.join(" ") };
}
