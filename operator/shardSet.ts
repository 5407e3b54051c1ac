import * as fs from "fs";
import { createHash } from "crypto";
import * as path from "path";
import * as yaml from "js-yaml";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { DEFAULTS, FleetHalt } from "../config/config";
import { RolloutSummary, ledgerFromOutputs } from "../stages/ledger";
import { fleetRollout } from "./fleetDriver";
import { shardOf, shardStackName } from "../config/shards";
import { OperatorError, StackRef, configKeys, plainConfig, pulumiCliAsync, stackOutputs, withMaskedOutputs } from "./stackAccess";
import { CONFIG_NS } from "../config/types";

/**
 * The stacks of a sharded fleet as its driver (npm run fleet) and npm run status reach them:
 * the fleet's own stack holds the operator's config (one place to set it), its shards
 * `<fleet>-s00` … get a copy of it before each run (`pulumi config cp`, secrets re-encrypted
 * by the CLI for each shard, never shown here), and each shard's outputs are read masked.
 */

const NS = CONFIG_NS;

export interface Fleet {
    stack: string;
    dir: string;
    env: NodeJS.ProcessEnv;
}

export interface ShardStack {
    name: string;
    ref: StackRef;
    /** Opened on first use (the Automation API), outputs masked. */
    open(): Promise<Stack>;
}

const refOf = (f: Fleet, stack: string): StackRef => ({ stack, dir: f.dir, env: f.env });

/** How many shards the fleet's stack asks for (1: the fleet is that one stack). */
export async function shardCount(f: Fleet): Promise<number> {
    const v = (await plainConfig(refOf(f, f.stack)))[`${NS}:shards`];
    const n = v === undefined ? 1 : Number(v);
    if (!Number.isInteger(n) || n < 1) throw new OperatorError(`${NS}:shards on stack ${f.stack} must be a whole number of stacks (got ${JSON.stringify(v)})`);
    return n;
}

/** The fleet's shard stacks (the fleet's own stack when it has one shard). */
export async function shardStacks(f: Fleet): Promise<ShardStack[]> {
    const n = await shardCount(f);
    const names = n === 1 ? [f.stack] : Array.from({ length: n }, (_, i) => shardStackName(f.stack, i));
    return names.map((name) => {
        let opened: Promise<Stack> | undefined;
        const ref = refOf(f, name);
        return {
            name, ref,
            open: () => (opened ??= LocalWorkspace.createOrSelectStack({ stackName: name, workDir: f.dir }, { envVars: stringEnv(f.env) }).then((s) => withMaskedOutputs(s, ref))),
        };
    });
}

/**
 * Makes each shard's config the fleet's: created when missing, every key copied, keys the
 * fleet no longer has removed. Runs one shard at a time (the CLI rewrites the config files).
 * A shard whose config file is as this checkout last synced it, from the same fleet config,
 * is left alone (a copy costs a few CLI calls per shard: seconds per run at 20 shards).
 */
export async function syncShardConfig(f: Fleet, shards: ShardStack[]): Promise<void> {
    if (shards.length === 1 && shards[0].name === f.stack) return;
    const file = (stack: string) => path.join(f.dir, `Pulumi.${stack}.yaml`);
    const text = (stack: string) => (fs.existsSync(file(stack)) ? fs.readFileSync(file(stack), "utf8") : "");
    const record = path.join(f.dir, ".rollout", "fleet", f.stack, "synced.json");
    const synced: Record<string, string> = fs.existsSync(record) ? JSON.parse(fs.readFileSync(record, "utf8")) : {};
    const mark = (shard: string) => createHash("sha256").update(text(f.stack)).update("\0").update(text(shard)).digest("hex");
    let wanted: string[] | undefined;
    for (const s of shards) {
        if (synced[s.name] === mark(s.name)) continue;
        wanted ??= await configKeys(refOf(f, f.stack));
        await s.open();
        await pulumiCliAsync(["config", "cp", "--dest", s.name], refOf(f, f.stack));
        const has = await configKeys(s.ref);
        for (const extra of has.filter((k) => !wanted!.includes(k))) {
            await pulumiCliAsync(["config", "rm", extra], s.ref);
        }
        synced[s.name] = mark(s.name);
    }
    fs.mkdirSync(path.dirname(record), { recursive: true });
    fs.writeFileSync(record, JSON.stringify(synced, null, 1) + "\n");
}

/** Sets or lifts the fleet's halt on the fleet's stack and on every shard (so a shard run by hand refuses too). */
export async function recordFleetHalt(f: Fleet, shards: ShardStack[], halt: FleetHalt | undefined): Promise<void> {
    for (const stack of new Set([f.stack, ...shards.map((s) => s.name)])) {
        const ref = refOf(f, stack);
        if (halt) await pulumiCliAsync(["config", "set", `${NS}:fleetHalt`, JSON.stringify(halt)], ref);
        // Unset, the key reads as its schema default "".
        else if ((await plainConfig(ref))[`${NS}:fleetHalt`]) await pulumiCliAsync(["config", "rm", `${NS}:fleetHalt`], ref);
    }
}

/** A shard's `fleet` and `rollout` outputs, masked (empty for a shard that never ran). */
export async function shardOutputs(s: ShardStack): Promise<{ fleet?: unknown; rollout?: unknown }> {
    try {
        return await stackOutputs(s.ref);
    } catch (e) {
        if (isMissingStack(e)) return {};
        throw e;
    }
}

/** The CLI's error for a stack the backend does not have (a shard that never ran). */
export const isMissingStack = (e: unknown): boolean => /no stack named|could not find stack|stack .* not found/i.test((e as Error).message);

/**
 * The fleet's VPS names as its stack's plain config lists them (hosts, inventoryFile,
 * hetzner.servers), by shard: the members of a shard that has not run yet. A secret `hosts`
 * (per-host keys) is not read; its hosts count once their shard has run.
 */
export async function configuredMembers(f: Fleet, shards: number): Promise<string[][]> {
    const c = await plainConfig(refOf(f, f.stack));
    const names: string[] = [];
    const list = (v: unknown) => (Array.isArray(v) ? v : []).map((h) => String((h as { name?: unknown }).name ?? "")).filter(Boolean);
    names.push(...list(safeJson(c[`${NS}:hosts`])));
    names.push(...provisionedNames(c));
    const file = c[`${NS}:inventoryFile`];
    if (file) {
        const doc = yaml.load(fs.readFileSync(path.resolve(f.dir, file), "utf8")) as unknown;
        names.push(...list(Array.isArray(doc) ? doc : (doc as { hosts?: unknown } | undefined)?.hosts));
    }
    const by: string[][] = Array.from({ length: shards }, () => []);
    for (const n of names) by[shards === 1 ? 0 : shardOf(n, shards)].push(n);
    return by;
}

/** The VPSs the fleet's stack provisions (hetzner.servers), by name: each is updated on its way to ready, whatever the stage. */
export function provisionedNames(config: Record<string, string>): string[] {
    const servers = (safeJson(config[`${NS}:hetzner`]) as { servers?: unknown } | undefined)?.servers;
    return (Array.isArray(servers) ? servers : []).map((h) => String((h as { name?: unknown }).name ?? "")).filter(Boolean);
}

/** The fleet's halt as npm run fleet recorded it in a stack's config (unset: none). */
export function fleetHaltIn(config: Record<string, string>): FleetHalt | undefined {
    const h = safeJson(config[`${NS}:fleetHalt`]) as FleetHalt | undefined;
    return h && typeof h === "object" && typeof h.release === "string" ? h : undefined;
}

function safeJson(v: string | undefined): unknown {
    try {
        return v === undefined ? undefined : JSON.parse(v);
    } catch {
        return undefined;
    }
}

function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
    return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === "string"));
}

/**
 * A sharded fleet's outputs as one stack's: every shard's `fleet` merged, and one rollout
 * summary of where the fleet is with the release its stack asks for (fleetDriver.ts
 * fleetRollout), with the fleet's halt when its driver recorded one.
 */
export async function fleetOutputs(f: Fleet): Promise<{ fleet: Record<string, unknown>; rollout?: RolloutSummary; halt?: FleetHalt }> {
    const shards = await shardStacks(f);
    const outs = await Promise.all(shards.map((s) => shardOutputs(s)));
    const fleet = Object.assign({}, ...outs.map((o) => (o.fleet && typeof o.fleet === "object" ? o.fleet : {})));
    const c = await plainConfig(refOf(f, f.stack));
    const release = c[`${NS}:targetCommit`] ?? "";
    const percent = Number(c[`${NS}:rolloutPercent`]);
    const rollouts = outs.map((o, i) => ({ name: shards[i].name, rollout: ledgerFromOutputs(undefined, o.rollout).rollout }));
    const halt = fleetHaltIn(c);
    const rollout = fleetRollout(release, percent, Number(c[`${NS}:failureThreshold`] ?? DEFAULTS.failureThreshold), rollouts, halt);
    return { fleet, ...(rollout ? { rollout } : {}), ...(rollout && halt?.release === release ? { halt } : {}) };
}
