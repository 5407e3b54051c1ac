import { AppSettings } from "../config/config";
import { mapLimit, poolEach } from "../fleet/pool";
import { finishAttemptOver, prepareOver, readHostOver } from "../lifecycle/hostOps";
import { attemptIdFor, healthUrlFor, lifecycleScript, updateCommand } from "../lifecycle/script";
import { SshTarget, withSsh } from "../lifecycle/ssh";

/** Seconds spent in each phase of one host's update, and in each step on the host. */
export type PhaseTimes = Record<"connect" | "prepare" | "update" | "finish", number> & { steps: Record<string, number> };

const since = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;

/**
 * The floor: a stage as the fleet runs it, with no Pulumi at all. Per host, the two phases
 * the program uses: the reading that installs the lifecycle script and the prepare (one
 * SSH connection, prepareParallel at a time, ahead), then the update step and the version
 * record's judgement (a second connection, maxParallel at a time, each after its prepare).
 */
export async function floorStage(targets: SshTarget[], app: AppSettings, commit: string, firstAttempt: number, maxParallel: number, prepareParallel: number) {
    const started = process.hrtime.bigint();
    const attemptIds = targets.map((_, i) => attemptIdFor(commit, firstAttempt + i));
    const prepared = poolEach(targets.map((_, i) => i), prepareParallel, (i) => {
        const t0 = process.hrtime.bigint();
        return withSsh(targets[i], async (exec) => {
            const connect = since(t0);
            await readHostOver(exec, app);
            await prepareOver(exec, app, commit, attemptIds[i]);
            return { connect, prepare: since(t0) - connect };
        });
    });
    const phases = await mapLimit(targets, maxParallel, async (target, i): Promise<PhaseTimes> => {
        const { connect, prepare } = await prepared[i];
        const healthUrl = healthUrlFor(app, target.host);
        return withSsh(target, async (exec) => {
            let mark = process.hrtime.bigint();
            await exec(updateCommand(lifecycleScript(app), commit, attemptIds[i], healthUrl));
            const update = since(mark);
            mark = process.hrtime.bigint();
            const outcome = await finishAttemptOver(exec, { app, commit, attemptId: attemptIds[i], healthUrl });
            if (outcome.updateStatus !== "success") {
                throw new Error(`${target.host}: the floor's update ended ${outcome.updateStatus}: ${outcome.error}`);
            }
            return { connect, prepare, update, finish: since(mark), steps: outcome.stepSeconds ?? {} };
        });
    });
    return { seconds: since(started), phases };
}
