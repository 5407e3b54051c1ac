// npm run fleet -- plan|preview|up --stack NAME [--percent P] [--commit SHA] [--shards-parallel N] [--dir PROJECT_DIR]
// npm run fleet -- split --stack NAME --shards N [--dir PROJECT_DIR]
import * as os from "os";
import { ShardPlan, planFleetStage } from "./fleetPlan";
import { fleetStageConfig, previewShards, runShardedStage } from "./fleetStage";
import { Fleet, shardStacks } from "./shardSet";
import { splitFleet } from "./splitFleet";
import { OperatorError, PROJECT_DIR, pulumiCliAsync } from "./stackAccess";
import { CONFIG_NS } from "../config/types";

const NS = CONFIG_NS;
const USAGE = `usage: npm run fleet -- plan|preview|up --stack NAME [--percent P] [--commit SHA] [--shards-parallel N] [--dir PROJECT_DIR]
       npm run fleet -- split --stack NAME --shards N [--dir PROJECT_DIR]
  runs one stage over every shard stack of the fleet NAME (rachel-fleet:shards on NAME; its
  config is copied to NAME-s00 … first) and judges it as one: the failure threshold applies
  to the whole fleet, a halt holds every shard. preview lists the hosts that would change
  (the engine's preview of every shard: re-check, drift and environments included); plan
  lists them from the shards' records alone, in seconds (no engine, no SSH).
  --percent, --commit   set the stage on NAME first (up) or only for this plan/preview
  --shards-parallel     shards run at once (default: the machine's cores, ${os.cpus().length} here)
  split moves a one-stack fleet NAME to N shard stacks without touching a VPS (pulumi state move)`;

type Verb = "plan" | "preview" | "up" | "split";
const VERBS: readonly string[] = ["plan", "preview", "up", "split"];

interface Options { verb: Verb; stack: string; dir: string; percent?: string; commit?: string; parallel: number; shards?: number }

function parse(argv: string[]): Options {
    const o: Partial<Options> = { dir: PROJECT_DIR, parallel: Math.max(1, os.cpus().length) };
    const [verb, ...rest] = argv;
    if (!VERBS.includes(verb)) throw new OperatorError(`the first word is plan, preview, up or split (got ${JSON.stringify(verb ?? "")})\n${USAGE}`);
    for (let i = 0; i < rest.length; i++) {
        const a = rest[i];
        const v = rest[++i];
        if (v === undefined || v.startsWith("--")) throw new OperatorError(`${a} needs a value\n${USAGE}`);
        if (a === "--stack") o.stack = v;
        else if (a === "--dir") o.dir = v;
        else if (a === "--percent") o.percent = v;
        else if (a === "--commit") o.commit = v;
        else if (a === "--shards-parallel" && /^[1-9]\d*$/.test(v)) o.parallel = Number(v);
        else if (a === "--shards" && verb === "split") o.shards = Number(v);
        else throw new OperatorError(`unknown argument or bad value: ${a} ${v}\n${USAGE}`);
    }
    if (!o.stack) throw new OperatorError(`--stack is required\n${USAGE}`);
    if (verb === "split" && o.shards === undefined) throw new OperatorError(`split needs --shards N\n${USAGE}`);
    return { ...(o as Options), verb: verb as Verb };
}

async function up(f: Fleet, o: Options): Promise<number> {
    const stage = await fleetStageConfig(f, o);
    const ref = { stack: f.stack, dir: f.dir, env: f.env };
    await pulumiCliAsync(["config", "set", `${NS}:targetCommit`, stage.targetCommit], ref);
    await pulumiCliAsync(["config", "set", `${NS}:rolloutPercent`, String(stage.rolloutPercent)], ref);
    const outcome = await runShardedStage(f, stage, o.parallel, say);
    say(outcome.sentence);
    return outcome.halted || outcome.locked.length ? 1 : 0;
}

async function preview(f: Fleet, o: Options): Promise<number> {
    const stage = await fleetStageConfig(f, o);
    const plans = await previewShards(f, stage, o.parallel, { shard: (p) => say(`${p.name}: ${p.hosts.length} host(s) would change`) });
    sayChanging(stage, plans.length, plans);
    return 0;
}

/** The hosts the stage would update over every shard, from the shards' records (fleetPlan.ts). */
async function plan(f: Fleet, o: Options): Promise<number> {
    const stage = await fleetStageConfig(f, o);
    const shards = await shardStacks(f);
    const plans = await planFleetStage(f, shards, stage, o.parallel);
    // A refusal is usually every shard's (the fleet's halt): its sentence once, the shards it holds after it.
    const alike = new Map<string, string[]>();
    plans.forEach((p) => (p.refused ? alike.set(p.refused, [...(alike.get(p.refused) ?? []), p.name]) : say(`${p.name}: ${p.hosts.length} host(s) would change`)));
    alike.forEach(([first, ...others], sentence) => {
        say(`${first}: refused: ${sentence}`);
        if (others.length) say(`${others.join(", ")}: refused alike`);
    });
    sayChanging(stage, shards.length, plans);
    return plans.some((p) => p.refused) ? 1 : 0;
}

function sayChanging(stage: { targetCommit: string; rolloutPercent: number }, shards: number, plans: ShardPlan[]): void {
    const all = [...plans].sort((a, b) => a.name.localeCompare(b.name)).flatMap((p) => [...p.hosts].sort().map((h) => `${h} (${p.name})`));
    say(`release ${stage.targetCommit.slice(0, 12)} at ${stage.rolloutPercent}% would change ${all.length} host(s) across ${shards} shards${all.length ? `: ${all.join(", ")}` : ""}`);
}

const say = (line: string) => process.stdout.write(`fleet: ${line}\n`);

async function main(): Promise<number> {
    const o = parse(process.argv.slice(2));
    const f: Fleet = { stack: o.stack, dir: o.dir, env: process.env };
    if (o.verb === "split") {
        await splitFleet(f, o.shards!, say);
        return 0;
    }
    return o.verb === "up" ? up(f, o) : o.verb === "plan" ? plan(f, o) : preview(f, o);
}

main().then((code) => process.exit(code), (e) => {
    process.stderr.write(`fleet: ${(e as Error).message}\n`);
    process.exit(e instanceof OperatorError ? 2 : 1);
});
