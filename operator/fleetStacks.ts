import { ConcurrentUpdateError, EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { VERSION_TYPE } from "../config/resourceTypes";
import { mapLimit } from "../fleet/pool";
import { ledgerFromOutputs } from "../stages/ledger";
import { planStage } from "../stages/plan";
import { Stage, planFleetStage } from "./fleetPlan";
import { previewShards, refreshShards, shardedRelease } from "./fleetStage";
import { Fleet, fleetOutputs, isMissingStack, shardCount, shardStacks } from "./shardSet";
import { StackRef, plainConfig, pulumiCliAsync, stackOutputs } from "./stackAccess";
import { CONFIG_NS } from "../config/types";

/**
 * The stacks behind the console's one fleet: the stack itself, or, on a sharded fleet's
 * stack (rachel-fleet:shards > 1), every shard of it, driven and judged as one as
 * npm run fleet does. The console (operator/runs.ts) reads and runs through this alone, so
 * its page, its refusals and its autopilot are the same over one stack and over shards.
 */

const NS = CONFIG_NS;

type OnEvent = (e: EngineEvent) => void;

export interface FleetStacks {
    /** How the console names what it drives: "stack prod" or "fleet prod (4 shards)". */
    label: string;
    /** The fleet's `fleet` and `rollout` outputs as one stack's. */
    outputs(): Promise<{ fleet?: unknown; rollout?: unknown }>;
    /** Host → update marker, as the last `pulumi refresh` recorded it in each version record. */
    markers(): Promise<Record<string, string>>;
    /** Hosts the stage updates, by the program's own plan (for the progress bar). */
    planned(stage: Stage): Promise<number>;
    /** The engine's preview of the stage; the config asks for it only while the preview runs. */
    preview(stage: Stage, onEvent: OnEvent): Promise<void>;
    /** `up` of the stage the fleet's config asks for; rejects as the engine's `up` does (a halt, a lock). */
    up(onEvent: OnEvent): Promise<void>;
    refresh(onEvent: OnEvent): Promise<void>;
    /** The autopilot's stale-lock release, where it differs from one stack's (a shard's lock). */
    releaseStaleLock?(message: string): Promise<boolean>;
}

/** A run refused because another update holds a stack (one stack's engine, or a shard's). */
export function refusedByLock(e: unknown): boolean {
    return e instanceof ConcurrentUpdateError || (e as Error | undefined)?.name === "ConcurrentUpdateError";
}

/** The fleet behind a stack: its shards when its config asks for more than one. */
export async function fleetStacksOf(f: Fleet, open: () => Promise<Stack>, parallel: number, say: (line: string) => void): Promise<FleetStacks> {
    const n = await shardCount(f);
    return n > 1 ? shardedFleet(f, n, parallel, say) : oneStack({ stack: f.stack, dir: f.dir, env: f.env }, open);
}

function oneStack(ref: StackRef & { stack: string }, open: () => Promise<Stack>): FleetStacks {
    return {
        label: `stack ${ref.stack}`,
        outputs: async () => {
            const o = await stackOutputs(ref);
            return { fleet: o.fleet, rollout: o.rollout };
        },
        markers: () => markersOf(ref),
        planned: async (stage) => {
            const o = await stackOutputs(ref);
            const ledger = ledgerFromOutputs(o.fleet, o.rollout);
            // Before its first stage a stack has no outputs: its hosts are the ones in its config.
            const hostNames = Object.keys(ledger.hosts).length ? Object.keys(ledger.hosts) : await configuredHosts(ref);
            const plan = planStage({ hostNames, target: stage.targetCommit, percent: stage.rolloutPercent, ledger, overrideHalt: true });
            return plan.cohort.filter((n) => plan.hosts[n].fresh).length;
        },
        preview: async (stage, onEvent) => {
            const stack = await open();
            const before = await plainConfig(ref);
            await stack.setAllConfig({ [`${NS}:targetCommit`]: { value: stage.targetCommit }, [`${NS}:rolloutPercent`]: { value: String(stage.rolloutPercent) } });
            try {
                await stack.preview({ onEvent });
            } finally {
                // A preview asks "what if": the stack's config as it was.
                for (const k of [`${NS}:targetCommit`, `${NS}:rolloutPercent`]) {
                    if (before[k] === undefined) await stack.removeConfig(k);
                    else await stack.setConfig(k, { value: before[k] });
                }
            }
        },
        up: async (onEvent) => void (await (await open()).up({ onEvent, showSecrets: false })),
        refresh: async (onEvent) => void (await (await open()).refresh({ onEvent, showSecrets: false })),
    };
}

function shardedFleet(f: Fleet, shards: number, parallel: number, say: (line: string) => void): FleetStacks {
    return {
        label: `fleet ${f.stack} (${shards} shards)`,
        outputs: () => fleetOutputs(f),
        markers: async () => Object.assign({}, ...(await mapLimit(await shardStacks(f), parallel, (s) => markersOf(s.ref).catch((e) => (isMissingStack(e) ? {} : Promise.reject(e)))))),
        planned: async (stage) => (await planFleetStage(f, await shardStacks(f), stage, parallel)).reduce((n, p) => n + p.hosts.length, 0),
        preview: async (stage, onEvent) => void (await previewShards(f, stage, parallel, { event: onEvent })),
        up: (onEvent) => shardedRelease(f, parallel, say, onEvent).up(),
        releaseStaleLock: (message) => shardedRelease(f, parallel, say).releaseStaleLock(message),
        refresh: (onEvent) => refreshShards(f, parallel, onEvent),
    };
}

async function configuredHosts(ref: StackRef): Promise<string[]> {
    try {
        return (JSON.parse((await plainConfig(ref))[`${NS}:hosts`] ?? "[]") as { name?: string }[]).map((h) => String(h.name));
    } catch {
        return [];
    }
}

async function markersOf(ref: StackRef): Promise<Record<string, string>> {
    const state = JSON.parse(await pulumiCliAsync(["stack", "export"], ref));
    const out: Record<string, string> = {};
    for (const r of (state.deployment?.resources ?? []) as { type: string; outputs?: { spec?: { hostName?: string }; marker?: string } }[]) {
        if (r.type === VERSION_TYPE && r.outputs?.marker && r.outputs.spec?.hostName) {
            out[r.outputs.spec.hostName] = r.outputs.marker;
        }
    }
    return out;
}
