import { AppSettings } from "../config/config";
import { finishAttemptOver, readHostOver } from "../lifecycle/hostOps";
import { attemptIdFor, healthUrlFor, lifecycleScript, updateCommand } from "../lifecycle/script";
import { SshTarget, withSsh } from "../lifecycle/ssh";

/** Seconds spent in each phase of one host's update, and in each step on the host. */
export type PhaseTimes = Record<"connect" | "read" | "update" | "finish", number> & { steps: Record<string, number> };

/**
 * The floor: one host's update as the fleet does it (the reading that installs the
 * lifecycle script, the update step, the version record's judgement), over one SSH
 * connection, with no Pulumi at all.
 */
export async function floorUpdate(target: SshTarget, app: AppSettings, commit: string, attempt: number): Promise<PhaseTimes> {
    const attemptId = attemptIdFor(commit, attempt);
    const healthUrl = healthUrlFor(app, target.host);
    const t: Partial<PhaseTimes> = { steps: {} };
    let mark = process.hrtime.bigint();
    const lap = (phase: Exclude<keyof PhaseTimes, "steps">) => {
        const now = process.hrtime.bigint();
        t[phase] = Number(now - mark) / 1e9;
        mark = now;
    };
    await withSsh(target, async (exec) => {
        lap("connect");
        await readHostOver(exec, app);
        lap("read");
        await exec(updateCommand(lifecycleScript(app), commit, attemptId, healthUrl));
        lap("update");
        const outcome = await finishAttemptOver(exec, { app, commit, attemptId, healthUrl });
        lap("finish");
        t.steps = outcome.stepSeconds ?? {};
        if (outcome.updateStatus !== "success") {
            throw new Error(`${target.host}: the floor's update ended ${outcome.updateStatus}: ${outcome.error}`);
        }
    });
    return t as PhaseTimes;
}
