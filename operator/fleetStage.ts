import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { parseFleetStage } from "../config/config";
import { mapLimit } from "../fleet/pool";
import { ledgerFromOutputs, RolloutSummary } from "../stages/ledger";
import { StackPort, firstError, lockedByAnother } from "./autopilot";
import { FleetOutcome, ShardResult, ShardRun, runFleetStage } from "./fleetDriver";
import { ShardPlan, Stage, planFleetStage } from "./fleetPlan";
import { pageEventsOf } from "./engineEvents";
import { Fleet, ShardStack, fleetOutputs, recordFleetHalt, shardOutputs, shardStacks, syncShardConfig } from "./shardSet";
import { isAlive } from "./rolloutControl";
import { plainConfig, pulumiCliAsync } from "./stackAccess";
import { CONFIG_NS } from "../config/types";

/**
 * One stage of a sharded fleet as npm run fleet -- up and the autopilot over shards run it
 * (the fleet's stack already asks for the stage): every shard's config made the fleet's,
 * the hosts each shard plans to update counted (the fleet's failure budget), the shards run
 * through the Automation API (each engine's output in .rollout/fleet/<stack>/<shard>.log),
 * and a halt the stage found recorded on every shard.
 */

const NS = CONFIG_NS;

export interface ShardedStage extends Stage { threshold: number }

/** The stage the fleet's stack asks for (or the operator's overrides), checked with the program's own messages. */
export async function fleetStageConfig(f: Fleet, overrides: { commit?: string; percent?: string } = {}): Promise<ShardedStage> {
    const c = await plainConfig({ stack: f.stack, dir: f.dir, env: f.env });
    return parseFleetStage(overrides.commit ?? c[`${NS}:targetCommit`] ?? "", overrides.percent ?? c[`${NS}:rolloutPercent`] ?? "", c[`${NS}:failureThreshold`], NS);
}

/**
 * The autopilot's stage and outputs over a sharded fleet (npm run rollout on the fleet's
 * stack): a stage is every shard's, judged as one; a halt or a refusal rejects as the
 * engine's `up` does, a shard locked by another update as a concurrent update.
 */
export function shardedRelease(f: Fleet, parallel: number, say: (line: string) => void, onEvent?: (e: EngineEvent) => void): Pick<StackPort, "up" | "outputs" | "releaseStaleLock"> {
    return {
        // A pulumi of this machine killed mid-update leaves its shard's lock in a DIY backend.
        releaseStaleLock: async (message) => {
            const stale = staleShardLocks(message, os.hostname(), isAlive);
            for (const shard of stale) await pulumiCliAsync(["cancel", "--yes"], { stack: shard, dir: f.dir, env: f.env });
            return stale.length > 0;
        },
        up: async () => {
            const outcome = await runShardedStage(f, await fleetStageConfig(f), parallel, say, onEvent);
            say(outcome.sentence);
            if (outcome.locked.length) throw Object.assign(new Error(outcome.sentence), { name: "ConcurrentUpdateError" });
            if (outcome.halted) throw new Error(outcome.sentence);
        },
        outputs: () => fleetOutputs(f),
    };
}

export async function runShardedStage(f: Fleet, stage: ShardedStage, parallel: number, say: (line: string) => void, onEvent?: (e: EngineEvent) => void): Promise<FleetOutcome> {
    const shards = await shardStacks(f);
    await syncShardConfig(f, shards);
    const planned = (await planFleetStage(f, shards, stage, parallel)).map((p) => p.hosts.length);
    const logDir = path.join(f.dir, ".rollout", "fleet", f.stack);
    fs.mkdirSync(logDir, { recursive: true });
    say(`release ${stage.targetCommit.slice(0, 12)} at ${stage.rolloutPercent}%: ${planned.reduce((a, b) => a + b, 0)} hosts to update over ${shards.length} shards, ${Math.min(parallel, shards.length)} at once (logs: ${logDir})`);
    const outcome = await runFleetStage({
        release: stage.targetCommit, percent: stage.rolloutPercent, threshold: stage.threshold, parallel, say,
        shards: shards.map((s, i) => shardRun(s, planned[i], stage, logDir, onEvent)),
    });
    // A halt the stage found (a shard's verdict or re-check) holds every shard; a stage the
    // programs refused (the fleet halted already, bad input) records nothing new.
    if (outcome.halted && outcome.results.some((r) => r.outcome === "halted" || r.outcome === "refused")) {
        await recordFleetHalt(f, shards, { release: stage.targetCommit, percent: stage.rolloutPercent, reason: outcome.sentence });
    } else if (!outcome.halted && !outcome.locked.length) {
        await recordFleetHalt(f, shards, undefined);
    }
    return outcome;
}

/**
 * The engine's preview of a stage on every shard: each shard's config made the fleet's,
 * then asks for the stage only while its preview runs (put back after, even on an error).
 * Resolves with the hosts each shard's preview would update (`on.shard` hears each as it ends).
 */
export async function previewShards(f: Fleet, stage: Stage, parallel: number, on: { event?: (e: EngineEvent) => void; shard?: (p: ShardPlan) => void } = {}): Promise<ShardPlan[]> {
    const shards = await shardStacks(f);
    await syncShardConfig(f, shards);
    try {
        return await mapLimit(shards, parallel, async (s) => {
            const stack = await s.open();
            await stack.setAllConfig({ [`${NS}:targetCommit`]: { value: stage.targetCommit }, [`${NS}:rolloutPercent`]: { value: String(stage.rolloutPercent) } });
            const hosts = new Set<string>();
            await stack.preview({
                onEvent: (e) => {
                    pageEventsOf(e).forEach((p) => p.kind === "host" && p.phase === "updating" && hosts.add(p.host));
                    on.event?.(e);
                },
            });
            const plan = { name: s.name, hosts: [...hosts].sort() };
            on.shard?.(plan);
            return plan;
        });
    } finally {
        // The fleet's own stage back on every shard.
        await syncShardConfig(f, shards);
    }
}

/** `pulumi refresh` of every shard (what each shard's VPSs run, read back into its state); rejects with the first error. */
export async function refreshShards(f: Fleet, parallel: number, onEvent?: (e: EngineEvent) => void): Promise<void> {
    const shards = await shardStacks(f);
    await syncShardConfig(f, shards);
    await mapLimit(shards, parallel, async (s) => void (await (await s.open()).refresh({ showSecrets: false, onEvent })));
}

/**
 * The shards a locked stage's sentence names as held by a pulumi of this machine that is
 * gone (`<shard> did not run: the stack is locked by user@host (pid N)`, lockHolder's words).
 */
export function staleShardLocks(sentence: string, hostname: string, alive: (pid: number) => boolean): string[] {
    return [...sentence.matchAll(/(\S+) did not run: the stack is locked by [^@\s]+@(\S+) \(pid (\d+)\)/g)]
        .filter((m) => m[2] === hostname && !alive(Number(m[3])))
        .map((m) => m[1]);
}

/** The engine's lock message reduced to who holds it (the backend URL in it may carry a password). */
export function lockHolder(message: string): string | undefined {
    if (!lockedByAnother(message)) return undefined;
    const by = /created by (\S+ \(pid \d+\))(?: at (\S+))?/.exec(message);
    return by ? `the stack is locked by ${by[1]}${by[2] ? ` since ${by[2]}` : ""}: another update (another operator's driver?) holds it; nothing ran there` : "the stack is locked by another update; nothing ran there";
}

function shardRun(s: ShardStack, planned: number, stage: Stage, logDir: string, onEvent?: (e: EngineEvent) => void): ShardRun {
    return {
        name: s.name, planned,
        run: async (): Promise<ShardResult> => {
            const log = fs.createWriteStream(path.join(logDir, `${s.name}.log`));
            const stack = await s.open();
            let error: Error | undefined;
            await stack.up({ showSecrets: false, onOutput: (o) => log.write(o), onEvent }).catch((e: Error) => (error = e));
            log.end();
            const rollout = ledgerFromOutputs(undefined, (await shardOutputs(s)).rollout).rollout as RolloutSummary | undefined;
            const locked = error && lockHolder(error.message);
            if (locked) return { name: s.name, outcome: "locked", message: locked };
            const mine = rollout?.release === stage.targetCommit;
            if (mine && rollout!.refusal) return { name: s.name, outcome: "refused", rollout, message: rollout!.refusal };
            if (mine && rollout!.percent === stage.rolloutPercent) return { name: s.name, outcome: rollout!.halted ? "halted" : "ran", rollout, message: describe(rollout!) };
            const why = error ? firstError(error.message) : "the stage recorded nothing";
            return { name: s.name, outcome: "failed", message: `the stage did not run: ${why} (log: ${path.join(logDir, `${s.name}.log`)})` };
        },
    };
}

const describe = (r: RolloutSummary) => `${r.succeeded}/${r.attempted} hosts succeeded${r.failed ? `, failed: ${r.failedHosts.join(", ")}` : ""}${r.halted ? " (halted)" : ""}`;
