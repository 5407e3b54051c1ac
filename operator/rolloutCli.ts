// npm run rollout -- --stack NAME --commit SHA [--to 100] [--stages 10,50,100] [--dir PROJECT_DIR]
// npm run rollout -- --stack NAME --resume | --pause | --abort | --status [--dir PROJECT_DIR]
import * as os from "os";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { parseStageRequest } from "../config/config";
import { stagesOf } from "./autopilot";
import { shardedRelease } from "./fleetStage";
import { resumeTarget, runRelease } from "./releaseDriver";
import { shardCount } from "./shardSet";
import { RolloutControl } from "./rolloutControl";
import { OperatorError, PROJECT_DIR, withMaskedOutputs } from "./stackAccess";
import { CONFIG_NS } from "../config/types";

const NS = CONFIG_NS;
const USAGE = `usage: npm run rollout -- --stack NAME --commit SHA [--to 100] [--stages 10,50,100] [--dir PROJECT_DIR]
       npm run rollout -- --stack NAME --resume | --pause | --abort | --status [--dir PROJECT_DIR]
  runs a release through its stages, each one pulumi up at that percentage: waits out the
  bake between stages, stops on a halt, a refused advance, an error or --abort, and says why.
  On a sharded fleet's stack (rachel-fleet:shards > 1) each stage is npm run fleet -- up's.
  --resume  goes on from what the stack records (also after this driver was killed)
  --pause   holds the running driver before its next stage; --abort stops it there
  --status  the driver's state`;

interface Options { stack: string; dir: string; commit?: string; stages: number[]; verb: "start" | "resume" | "pause" | "abort" | "status" }

function parse(argv: string[]): Options {
    const o: Partial<Options> & { to?: number; stagesList?: string } = { dir: PROJECT_DIR, verb: "start" };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new OperatorError(`${a} needs a value\n${USAGE}`);
            return v;
        };
        if (a === "--stack") o.stack = value();
        else if (a === "--dir") o.dir = value();
        else if (a === "--commit") o.commit = value();
        else if (a === "--to") o.to = Number(value());
        else if (a === "--stages") o.stagesList = value();
        else if (["--resume", "--pause", "--abort", "--status"].includes(a)) o.verb = a.slice(2) as Options["verb"];
        else throw new OperatorError(`unknown argument '${a}'\n${USAGE}`);
    }
    if (!o.stack) throw new OperatorError(`--stack is required\n${USAGE}`);
    let stages: number[];
    try {
        stages = stagesOf(o.stagesList, o.to);
    } catch (e) {
        throw new OperatorError(`--stages/--to: ${(e as Error).message}`);
    }
    if (o.verb === "start") {
        if (!o.commit) throw new OperatorError(`--commit is required to start a release (or --resume)\n${USAGE}`);
        o.commit = parseStageRequest(o.commit, String(stages[0]), NS).targetCommit;
    }
    return { ...(o as Options), stages };
}

async function drive(o: Options, control: RolloutControl): Promise<number> {
    const ref = { stack: o.stack, dir: o.dir };
    const stack = withMaskedOutputs(await LocalWorkspace.selectStack({ stackName: o.stack, workDir: o.dir }), ref);
    const { release, stages } = o.commit ? { release: o.commit, stages: o.stages } : await resumeTarget(control, ref, o.stages);
    const say = (line: string) => process.stdout.write(`rollout: ${line}\n`);
    // A sharded fleet: each stage is npm run fleet's, over every shard (--shards-parallel: the cores).
    const f = { stack: o.stack, dir: o.dir, env: process.env };
    const steps = (await shardCount(f)) > 1
        ? shardedRelease(f, Math.max(1, os.cpus().length), say)
        : { up: async () => void (await stack.up({ onOutput: (out) => process.stdout.write(out), showSecrets: false })) };
    const outcome = await runRelease({ stack, ref, control, release, stages, say, ...steps });
    return outcome.state === "complete" ? 0 : 1;
}

async function main(): Promise<number> {
    const o = parse(process.argv.slice(2));
    const control = new RolloutControl(o.dir, o.stack);
    const driver = control.read();
    switch (o.verb) {
        case "status":
            process.stdout.write(driver ? `${JSON.stringify(driver, null, 2)}\n` : "no rollout has run on this stack from this project directory\n");
            return 0;
        case "pause":
        case "abort":
            if (!driver?.alive) throw new OperatorError(`no rollout driver runs on stack ${o.stack}; nothing to ${o.verb}`);
            control.request(o.verb);
            process.stdout.write(o.verb === "pause"
                ? `asked driver ${driver.pid} to pause: a running stage finishes, the next waits for --resume\n`
                : `asked driver ${driver.pid} to stop: a running stage finishes (no host is left mid-update), no further stage starts\n`);
            return 0;
        case "resume":
            if (driver?.alive) {
                control.request("run");
                process.stdout.write(`asked driver ${driver.pid} to go on\n`);
                return 0;
            }
            return drive(o, control);
        default:
            return drive(o, control);
    }
}

main().then((code) => process.exit(code), (e) => {
    process.stderr.write(`rollout: ${(e as Error).message}\n`);
    process.exit(e instanceof OperatorError ? 2 : 1);
});
