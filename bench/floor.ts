import { StepContext, attemptIdFor, concludeCommand, healthUrlFor, inspectCommand, parseKeyValues, updateSteps } from "../lifecycle/commands";
import { AppSettings } from "../config/config";
import { SshTarget, withSsh } from "../lifecycle/ssh";

/** Seconds spent in each phase of one host's update. */
export type PhaseTimes = Record<"connect" | "prepare" | "fetch" | "checkout" | "install" | "restart" | "verify" | "conclude", number>;

/**
 * The floor: the same update sequence (the component's own command strings) run
 * directly over one SSH connection per host, with no Pulumi at all.
 */
export async function floorUpdate(target: SshTarget, app: AppSettings, commit: string, attempt: number): Promise<PhaseTimes> {
    const ctx: StepContext = { app, target: commit, attemptId: attemptIdFor(commit, attempt), healthUrl: healthUrlFor(app, target.host) };
    const t: Partial<PhaseTimes> = {};
    const started = process.hrtime.bigint();
    const secs = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;
    await withSsh(target, async (exec) => {
        t.connect = secs(started);
        for (const step of updateSteps(ctx)) {
            const s = process.hrtime.bigint();
            await exec(step.command);
            t[step.name] = secs(s);
        }
        const c = process.hrtime.bigint();
        const kv = parseKeyValues((await exec(inspectCommand(ctx))).stdout);
        if (kv.failed) {
            throw new Error(`${target.host}: the floor's update failed: ${Buffer.from(kv.failed, "base64").toString()}`);
        }
        await exec(concludeCommand(ctx, commit));
        t.conclude = secs(c);
    });
    return t as PhaseTimes;
}
