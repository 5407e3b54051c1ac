// npm run fleet -- preview|up --stack NAME [--percent P] [--commit SHA] [--shards-parallel N] [--dir PROJECT_DIR]
// npm run fleet -- split --stack NAME --shards N [--dir PROJECT_DIR]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseStageRequest, DEFAULTS } from "../config/config";
import { cohortFor } from "../stages/cohort";
import { ledgerFromOutputs, RolloutSummary } from "../stages/ledger";
import { planStage } from "../stages/plan";
import { pageEventsOf } from "./engineEvents";
import { firstError, lockedByAnother } from "./autopilot";
import { ShardResult, ShardRun, runFleetStage } from "./fleetDriver";
import { Fleet, ShardStack, configuredMembers, recordFleetHalt, shardOutputs, shardStacks, syncShardConfig } from "./shardSet";
import { splitFleet } from "./splitFleet";
import { OperatorError, PROJECT_DIR, plainConfig, pulumiCliAsync } from "./stackAccess";

const NS = "rachel-fleet";
const USAGE = `usage: npm run fleet -- preview|up --stack NAME [--percent P] [--commit SHA] [--shards-parallel N] [--dir PROJECT_DIR]
       npm run fleet -- split --stack NAME --shards N [--dir PROJECT_DIR]
  runs one stage over every shard stack of the fleet NAME (rachel-fleet:shards on NAME; its
  config is copied to NAME-s00 … first) and judges it as one: the failure threshold applies
  to the whole fleet, a halt holds every shard. preview lists the hosts that would change.
  --percent, --commit   set the stage on NAME first (up) or only for this preview
  --shards-parallel     shards run at once (default: the machine's cores, ${os.cpus().length} here)
  split moves a one-stack fleet NAME to N shard stacks without touching a VPS (pulumi state move)`;

interface Options { verb: "preview" | "up" | "split"; stack: string; dir: string; percent?: string; commit?: string; parallel: number; shards?: number }

function parse(argv: string[]): Options {
    const o: Partial<Options> = { dir: PROJECT_DIR, parallel: Math.max(1, os.cpus().length) };
    const [verb, ...rest] = argv;
    if (verb !== "preview" && verb !== "up" && verb !== "split") throw new OperatorError(`the first word is preview, up or split (got ${JSON.stringify(verb ?? "")})\n${USAGE}`);
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
    return { ...(o as Options), verb };
}

/** The stage the fleet asks for (after the options), checked with the program's own messages. */
async function stageOf(f: Fleet, o: Options): Promise<{ targetCommit: string; rolloutPercent: number; threshold: number }> {
    const c = await plainConfig({ stack: f.stack, dir: f.dir, env: f.env });
    const s = parseStageRequest(o.commit ?? c[`${NS}:targetCommit`] ?? "", o.percent ?? c[`${NS}:rolloutPercent`] ?? "", NS);
    return { ...s, threshold: Number(c[`${NS}:failureThreshold`] ?? DEFAULTS.failureThreshold) };
}

/** Hosts the stage will update in each shard, by the program's own plan (a new shard: its configured members). */
async function plannedPerShard(f: Fleet, shards: ShardStack[], stage: { targetCommit: string; rolloutPercent: number }): Promise<number[]> {
    const members = await configuredMembers(f, shards.length);
    return Promise.all(shards.map(async (s, i) => {
        const out = await shardOutputs(s);
        const ledger = ledgerFromOutputs(out.fleet, out.rollout);
        const names = Object.keys(ledger.hosts);
        if (!names.length) return cohortFor(stage.rolloutPercent, members[i], stage.targetCommit).length;
        const plan = planStage({ hostNames: names, target: stage.targetCommit, percent: stage.rolloutPercent, ledger, overrideHalt: true });
        return plan.cohort.filter((n) => plan.hosts[n].fresh).length;
    }));
}

/** The engine's lock message reduced to who holds it (the backend URL in it may carry a password). */
function lockHolder(message: string): string | undefined {
    if (!lockedByAnother(message)) return undefined;
    const by = /created by (\S+ \(pid \d+\))(?: at (\S+))?/.exec(message);
    return by ? `the stack is locked by ${by[1]}${by[2] ? ` since ${by[2]}` : ""}: another update (another operator's driver?) holds it; nothing ran there` : "the stack is locked by another update; nothing ran there";
}

function shardRun(s: ShardStack, planned: number, stage: { targetCommit: string; rolloutPercent: number }, logDir: string): ShardRun {
    return {
        name: s.name, planned,
        run: async (): Promise<ShardResult> => {
            const log = fs.createWriteStream(path.join(logDir, `${s.name}.log`));
            const stack = await s.open();
            let error: Error | undefined;
            await stack.up({ showSecrets: false, onOutput: (o) => log.write(o) }).catch((e: Error) => (error = e));
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

async function up(f: Fleet, o: Options): Promise<number> {
    const stage = await stageOf(f, o);
    const ref = { stack: f.stack, dir: f.dir, env: f.env };
    await pulumiCliAsync(["config", "set", `${NS}:targetCommit`, stage.targetCommit], ref);
    await pulumiCliAsync(["config", "set", `${NS}:rolloutPercent`, String(stage.rolloutPercent)], ref);
    const shards = await shardStacks(f);
    await syncShardConfig(f, shards);
    const planned = await plannedPerShard(f, shards, stage);
    const logDir = path.join(f.dir, ".rollout", "fleet", f.stack);
    fs.mkdirSync(logDir, { recursive: true });
    say(`release ${stage.targetCommit.slice(0, 12)} at ${stage.rolloutPercent}%: ${planned.reduce((a, b) => a + b, 0)} hosts to update over ${shards.length} shards, ${Math.min(o.parallel, shards.length)} at once (logs: ${logDir})`);
    const outcome = await runFleetStage({
        release: stage.targetCommit, percent: stage.rolloutPercent, threshold: stage.threshold, parallel: o.parallel, say,
        shards: shards.map((s, i) => shardRun(s, planned[i], stage, logDir)),
    });
    // A halt the stage found (a shard's verdict or re-check) holds every shard; a stage the
    // programs refused (the fleet halted already, bad input) records nothing new.
    if (outcome.halted && outcome.results.some((r) => r.outcome === "halted" || r.outcome === "refused")) {
        await recordFleetHalt(f, shards, { release: stage.targetCommit, percent: stage.rolloutPercent, reason: outcome.sentence });
    } else if (!outcome.halted && !outcome.locked.length) {
        await recordFleetHalt(f, shards, undefined);
    }
    say(outcome.sentence);
    return outcome.halted || outcome.locked.length ? 1 : 0;
}

async function preview(f: Fleet, o: Options): Promise<number> {
    const stage = await stageOf(f, o);
    const shards = await shardStacks(f);
    await syncShardConfig(f, shards);
    const changing: Record<string, string[]> = {};
    try {
        let next = 0;
        const worker = async () => {
            for (let i = next++; i < shards.length; i = next++) {
                const s = shards[i];
                const stack = await s.open();
                // Only for this preview: the next sync puts the fleet's own stage back.
                await stack.setAllConfig({ [`${NS}:targetCommit`]: { value: stage.targetCommit }, [`${NS}:rolloutPercent`]: { value: String(stage.rolloutPercent) } });
                const hosts = new Set<string>();
                await stack.preview({ onEvent: (e) => pageEventsOf(e).forEach((p) => p.kind === "host" && p.phase === "updating" && hosts.add(p.host)) });
                changing[s.name] = [...hosts].sort();
                say(`${s.name}: ${hosts.size} host(s) would change`);
            }
        };
        await Promise.all(Array.from({ length: Math.min(o.parallel, shards.length) }, worker));
    } finally {
        await syncShardConfig(f, shards);
    }
    const all = Object.entries(changing).sort().flatMap(([shard, hosts]) => hosts.map((h) => `${h} (${shard})`));
    say(`release ${stage.targetCommit.slice(0, 12)} at ${stage.rolloutPercent}% would change ${all.length} host(s) across ${shards.length} shards${all.length ? `: ${all.join(", ")}` : ""}`);
    return 0;
}

const say = (line: string) => process.stdout.write(`fleet: ${line}\n`);

async function main(): Promise<number> {
    const o = parse(process.argv.slice(2));
    const f: Fleet = { stack: o.stack, dir: o.dir, env: process.env };
    if (o.verb === "split") {
        await splitFleet(f, o.shards!, say);
        return 0;
    }
    return o.verb === "up" ? up(f, o) : preview(f, o);
}

main().then((code) => process.exit(code), (e) => {
    process.stderr.write(`fleet: ${(e as Error).message}\n`);
    process.exit(e instanceof OperatorError ? 2 : 1);
});
