import {
    StepContext,
    concludeCommand,
    inspectCommand,
    parseKeyValues,
    readbackCommand,
    rollbackCommand,
} from "./commands";
import { AppSettings } from "../config/config";
import { SshError, SshTarget, withSsh } from "./ssh";
import { UpdateStatus } from "../stages/ledger";

/** What a VPS runs right now. */
export interface HostReading {
    reachable: boolean;
    /** Why the VPS could not be read; empty when reachable. */
    reason: string;
    head: string;
    serviceState: string;
    lastGood: string;
    /** The update marker's content when one is present (an update runs, or was interrupted). */
    marker: string;
}

/** The end of one update attempt, as recorded in stack state. */
export interface AttemptOutcome {
    updateStatus: UpdateStatus;
    currentVersion: string;
    previousVersion: string;
    serviceState: string;
    error: string;
    lastUpdateAt: string;
}

const unb64 = (s: string | undefined) => (s ? Buffer.from(s, "base64").toString("utf8").trim() : "");
const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Reads HEAD, the service state and the marker. Never throws: an unreachable VPS is a reading too. */
export async function readHost(target: SshTarget, app: AppSettings): Promise<HostReading> {
    try {
        const r = await withSsh(target, (exec) => exec(readbackCommand(app)));
        const kv = parseKeyValues(r.stdout);
        return {
            reachable: true,
            reason: "",
            head: kv.head ?? "",
            serviceState: kv.active || "unknown",
            lastGood: kv.lastgood ?? "",
            marker: unb64(kv.marker),
        };
    } catch (err) {
        return { reachable: false, reason: describe(err), head: "", serviceState: "unknown", lastGood: "", marker: "" };
    }
}

/**
 * Judges the attempt the remote.Command steps just ran and, when any step failed
 * or verify did not pass, rolls the VPS back to the commit prepare remembered:
 * checkout → install → restart → verify, once (a failed rollback is reported, never
 * retried recursively). The marker is removed on every path.
 */
export async function finishAttempt(target: SshTarget, ctx: StepContext): Promise<AttemptOutcome> {
    const now = () => new Date().toISOString();
    try {
        return await withSsh(target, async (exec) => {
            const kv = parseKeyValues((await exec(inspectCommand(ctx))).stdout);
            const previous = kv.previous || kv.lastgood || "";
            const forwardError = unb64(kv.failed);
            const succeeded = !forwardError && kv.head === ctx.target && (kv.noop === "1" || kv.verified === ctx.target);
            let status: UpdateStatus;
            let error = "";
            if (kv.ran !== "1") {
                status = "failed";
                error = "the update steps did not run on this VPS";
                await exec(concludeCommand(ctx, undefined));
            } else if (succeeded) {
                status = "success";
                await exec(concludeCommand(ctx, ctx.target));
            } else {
                const why = forwardError || `verify did not pass (HEAD ${kv.head || "unknown"}, service ${kv.active || "unknown"})`;
                if (!/^[0-9a-f]{40}$/.test(previous)) {
                    status = "failed";
                    error = `${why}; no previous commit is known, so the VPS was not rolled back`;
                    await exec(concludeCommand(ctx, undefined));
                } else {
                    const rb = await exec(rollbackCommand(ctx, previous)).catch((e) => ({ code: -1, stdout: describe(e), stderr: "" }));
                    if (rb.code === 0) {
                        status = "rolled_back";
                        error = `${why}; rolled back to ${previous}`;
                        await exec(concludeCommand(ctx, previous));
                    } else {
                        status = "failed";
                        const rbWhy = (rb.stdout + rb.stderr).trim().split("\n").slice(-3).join(" ");
                        error = `${why}; ROLLBACK TO ${previous} ALSO FAILED: ${rbWhy}`;
                        await exec(concludeCommand(ctx, undefined)).catch(() => undefined);
                    }
                }
            }
            const after = parseKeyValues((await exec(readbackCommand(ctx.app))).stdout);
            return {
                updateStatus: status,
                currentVersion: after.head ?? "",
                previousVersion: previous,
                serviceState: after.active || "unknown",
                error,
                lastUpdateAt: now(),
            };
        });
    } catch (err) {
        const kind = err instanceof SshError ? err.kind : "error";
        return {
            updateStatus: "failed",
            currentVersion: "",
            previousVersion: "",
            serviceState: "unknown",
            error: `${kind}: ${describe(err)}`,
            lastUpdateAt: now(),
        };
    }
}
