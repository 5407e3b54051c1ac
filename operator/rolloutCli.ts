// npm run rollout -- --stack NAME --commit SHA [--to 100] [--stages 10,50,100] [--dir PROJECT_DIR]
// npm run rollout -- --stack NAME --resume | --pause | --abort | --status [--dir PROJECT_DIR]
import * as os from "os";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { parseStageRequest } from "../config/config";
import { Autopilot, StackPort, driveRelease } from "./autopilot";
import { Notifier } from "./notify";
import { RolloutControl, isAlive } from "./rolloutControl";
import { OperatorError, PROJECT_DIR, readStackOutputs } from "./stackAccess";

const NS = "rachel-fleet";
const USAGE = `usage: npm run rollout -- --stack NAME --commit SHA [--to 100] [--stages 10,50,100] [--dir PROJECT_DIR]
       npm run rollout -- --stack NAME --resume | --pause | --abort | --status [--dir PROJECT_DIR]
  runs a release through its stages, each one pulumi up at that percentage: waits out the
  bake between stages, stops on a halt, a refused advance, an error or --abort, and says why.
  --resume  goes on from what the stack records (also after this driver was killed)
  --pause   holds the running driver before its next stage; --abort stops it there
  --status  the driver's state`;

interface Options { stack: string; dir: string; commit?: string; stages: number[]; verb: "start" | "resume" | "pause" | "abort" | "status" }

function parse(argv: string[]): Options {
    const o: Partial<Options> & { to?: number } = { dir: PROJECT_DIR, verb: "start" };
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
        else if (a === "--stages") o.stages = value().split(",").map(Number);
        else if (["--resume", "--pause", "--abort", "--status"].includes(a)) o.verb = a.slice(2) as Options["verb"];
        else throw new OperatorError(`unknown argument '${a}'\n${USAGE}`);
    }
    if (!o.stack) throw new OperatorError(`--stack is required\n${USAGE}`);
    const stages = (o.stages ?? [10, 50, 100]).filter((s) => o.to === undefined || s <= o.to);
    if (o.to !== undefined && !stages.includes(o.to)) stages.push(o.to);
    if (stages.length === 0 || stages.some((s, i) => !Number.isInteger(s) || s < 1 || s > 100 || (i > 0 && s <= stages[i - 1]))) {
        throw new OperatorError(`--stages/--to must give rising whole percentages from 1 to 100 (got ${stages.join(",")}); e.g. --stages 10,50,100`);
    }
    if (o.verb === "start") {
        if (!o.commit) throw new OperatorError(`--commit is required to start a release (or --resume)\n${USAGE}`);
        o.commit = parseStageRequest(o.commit, String(stages[0]), NS).targetCommit;
    }
    return { ...(o as Options), stages };
}

/** The stack through the Automation API; outputs read without decrypting anything. */
function stackPort(stack: Stack, o: Options): StackPort {
    const get = async (k: string) => (await stack.getAllConfig())[`${NS}:${k}`]?.value;
    return {
        outputs: async () => readStackOutputs({ stack: o.stack, dir: o.dir }),
        stageConfig: async () => ({ targetCommit: await get("targetCommit"), rolloutPercent: await get("rolloutPercent"), bakeSeconds: Number((await get("bakeSeconds")) ?? 300) }),
        setStage: (commit, percent) => stack.setAllConfig({ [`${NS}:targetCommit`]: { value: commit }, [`${NS}:rolloutPercent`]: { value: percent } }),
        up: async () => {
            await stack.up({ onOutput: (out) => process.stdout.write(out) });
        },
        releaseStaleLock: async (message) => {
            // The DIY backends name the lock's taker: "created by user@host (pid N)".
            const m = /created by [^@\s]+@(\S+) \(pid (\d+)\)/.exec(message);
            if (!m || m[1] !== os.hostname() || isAlive(Number(m[2]))) return false;
            await stack.cancel();
            return true;
        },
    };
}

async function drive(o: Options, control: RolloutControl): Promise<number> {
    control.claim();
    const stack = await LocalWorkspace.selectStack({ stackName: o.stack, workDir: o.dir });
    const prior = control.read();
    const release = o.commit ?? prior?.release ?? (await stack.getConfig(`${NS}:targetCommit`)).value;
    const stages = o.commit ? o.stages : prior?.stages ?? o.stages;
    const say = (line: string) => process.stdout.write(`rollout: ${line}\n`);
    // The one secret the driver needs; it goes to the receiver only.
    const notifyUrl = (await stack.getAllConfig())[`${NS}:notifyUrl`]?.value;
    const notifier = new Notifier(notifyUrl, say);
    const autopilot: Autopilot = {
        stack: stackPort(stack, o),
        report: { say, state: (s) => control.write(s), event: (e) => notifier.send(e) },
        request: () => control.request(),
        now: () => Date.now(),
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
    const outcome = await driveRelease(release, stages, autopilot);
    await notifier.settle(20000);
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
