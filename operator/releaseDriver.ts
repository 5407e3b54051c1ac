import * as os from "os";
import { Stack } from "@pulumi/pulumi/automation";
import { DEFAULTS } from "../config/types";
import { Outcome, StackPort, driveRelease } from "./autopilot";
import { Notifier } from "./notify";
import { RolloutControl, isAlive } from "./rolloutControl";
import { withTimeline } from "./timeline";
import { StackRef, configKeys, plainConfig, stackOutputs } from "./stackAccess";
import { CONFIG_NS } from "../config/types";

/**
 * One release driven by the autopilot, as `npm run rollout` and the console's Start release
 * both run it: the stack through the Automation API (config read without decrypting
 * anything), the control files a second terminal talks to, the notifications and the stage
 * timeline. The caller says how a stage's `up` runs (its output to a terminal, or its events
 * to a page).
 */

const NS = CONFIG_NS;

export interface ReleaseRun {
    stack: Stack;
    ref: StackRef;
    control: RolloutControl;
    release: string;
    stages: number[];
    /** One stage's `pulumi up` (the config already asks for it). */
    up: () => Promise<void>;
    /** The stack's outputs; a sharded fleet's are its shards' (fleetStage.ts shardedRelease). */
    outputs?: StackPort["outputs"];
    /** Releases a stale lock (default: this stack's, when its pulumi on this machine is gone). */
    releaseStaleLock?: StackPort["releaseStaleLock"];
    say: (line: string) => void;
}

/** The release and stages a resume goes on with: the last driver's, else the stack's own target. */
export async function resumeTarget(control: RolloutControl, ref: StackRef, stages: number[]): Promise<{ release: string; stages: number[] }> {
    const prior = control.read();
    const release = prior?.release ?? (await plainConfig(ref))[`${NS}:targetCommit`];
    if (!release) throw new Error("nothing to resume: no driver has run on this stack and it asks for no targetCommit");
    return { release, stages: prior?.stages ?? stages };
}

/** Claims the stack's control (refused while another driver lives) and runs the release to its end or a stop. */
export async function runRelease(r: ReleaseRun): Promise<Outcome> {
    r.control.claim();
    const prior = r.control.read();
    // The one secret the driver needs is read on its own, and only when the stack has it
    // (the plain listing names a secret key without its value; plainConfig leaves it out).
    const hasNotify = (await configKeys(r.ref)).includes(`${NS}:notifyUrl`);
    const notifyUrl = hasNotify ? (await r.stack.getConfig(`${NS}:notifyUrl`)).value : undefined;
    const notifier = new Notifier(notifyUrl, r.say);
    const report = withTimeline({
        say: r.say,
        state: (s) => r.control.write(s),
        event: (e) => notifier.send(e),
    }, prior?.release === r.release ? prior.timeline ?? [] : []);
    const outcome = await driveRelease(r.release, r.stages, {
        stack: stackPort(r),
        report,
        request: () => r.control.request(),
        now: () => Date.now(),
        sleep: (ms) => new Promise((res) => setTimeout(res, ms)),
    });
    await notifier.settle(20000);
    return outcome;
}

function stackPort(r: ReleaseRun): StackPort {
    return {
        outputs: r.outputs ?? (() => stackOutputs(r.ref)),
        stageConfig: async () => {
            const c = await plainConfig(r.ref);
            return { targetCommit: c[`${NS}:targetCommit`], rolloutPercent: c[`${NS}:rolloutPercent`], bakeSeconds: Number(c[`${NS}:bakeSeconds`] ?? DEFAULTS.bakeSeconds) };
        },
        setStage: (commit, percent) => r.stack.setAllConfig({ [`${NS}:targetCommit`]: { value: commit }, [`${NS}:rolloutPercent`]: { value: percent } }),
        up: r.up,
        releaseStaleLock: r.releaseStaleLock ?? (async (message) => {
            // The DIY backends name the lock's taker: "created by user@host (pid N)".
            const m = /created by [^@\s]+@(\S+) \(pid (\d+)\)/.exec(message);
            if (!m || m[1] !== os.hostname() || isAlive(Number(m[2]))) return false;
            await r.stack.cancel();
            return true;
        }),
    };
}
