import { AppSettings } from "../config/config";
import { LifecycleScript, lifecycleScript, parseKeyValues, prepareWithEnvCommand, scriptInvocation } from "./script";
import { STEP_NAMES, VERIFYING_STEP, phaseOf, stepsOf } from "./steps";
import { Exec, SshError, SshTarget, withSsh } from "./ssh";
import { UpdateStatus } from "../stages/ledger";

/**
 * What the fleet does on one VPS outside the update step itself: read it (which also
 * installs the lifecycle script the update step names), and finish an attempt (judge
 * it, roll back when it failed, conclude it). The program calls readHost before a host's
 * update; the version provider calls finishAttempt after it and readHost on refresh.
 */

/** What a VPS runs right now. */
export interface HostReading {
    reachable: boolean;
    /** Why the VPS could not be read, as a sentence; empty when reachable. */
    reason: string;
    head: string;
    serviceState: string;
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
    /** Seconds each step took on the VPS (for the bench; not kept in state). */
    stepSeconds?: Record<string, number>;
}

/** One attempt on one VPS: what finishAttempt needs to know. */
export interface AttemptRef {
    app: AppSettings;
    commit: string;
    attemptId: string;
    healthUrl: string;
}

/** Decodes a base64 value the script printed (empty stays empty). */
export const unb64 = (s: string | undefined) => (s ? Buffer.from(s, "base64").toString("utf8").trim() : "");

/** The reading of a VPS that could not be read, with why as a sentence. */
export function unreachableReading(reason: string): HostReading {
    return { reachable: false, reason, head: "", serviceState: "unknown", marker: "" };
}
const isSha = (s: string) => /^[0-9a-f]{40}$/.test(s);

/** An error as the sentence an operator reads (never "[object Object]"). */
export function describeError(err: unknown): string {
    if (err instanceof SshError) {
        return err.message;
    }
    if (err instanceof Error) {
        return err.message;
    }
    if (err && typeof err === "object") {
        const o = err as Record<string, unknown>;
        return typeof o.message === "string" ? o.message : JSON.stringify(o);
    }
    return String(err);
}

async function run(exec: Exec, script: LifecycleScript, args: string[]) {
    const { command, stdin } = scriptInvocation(script, args);
    return exec(command, { stdin });
}

/** lifecycle.sh's exit status when another operation held the host lock for its whole wait. */
const LOCK_HELD = 75;

/** An attempt whose prepare phase runs right after the reading, over the same connection. */
export interface PrepareRef {
    commit: string;
    attemptId: string;
    /** The VPS's environment file (a secret), delivered on stdin; undefined leaves it as it is. */
    envText?: string;
    /** A VPS just created: its sshd may not answer yet, so an unreachable one is waited for too. */
    newVps?: boolean;
}

/**
 * Reads HEAD, the service state and the marker, installing the lifecycle script when it
 * is missing; with `prepare`, then prepares that attempt's release (see prepareOver).
 * Never throws: an unreachable VPS is a reading too.
 */
export async function readHost(target: SshTarget, app: AppSettings, prepare?: PrepareRef): Promise<HostReading> {
    try {
        const readAndPrepare = () => withSsh(target, async (exec) => {
            const reading = await readHostOver(exec, app);
            if (prepare) await prepareOver(exec, app, prepare.commit, prepare.attemptId, prepare.envText);
            return reading;
        });
        // A VPS that rebooted in the middle of its prepare is waited for, and its prepare
        // resumed (a step that finished is not run again; nothing was switched); so is a
        // new VPS still booting.
        return await untilBack(readAndPrepare, (e) => prepare !== undefined && (e.kind === "dropped" || (e.kind === "unreachable" && prepare.newVps === true)));
    } catch (err) {
        return unreachableReading(describeError(err));
    }
}

/** readHost over a connection that is already open; throws when the VPS cannot be read. */
export async function readHostOver(exec: Exec, app: AppSettings): Promise<HostReading> {
    const r = await run(exec, lifecycleScript(app), ["readback"]);
    if (r.code !== 0) {
        throw new Error(`reading the VPS failed (exit ${r.code}): ${(r.stdout + r.stderr).trim().split("\n").slice(-2).join(" ")}`);
    }
    const kv = parseKeyValues(r.stdout);
    return { reachable: true, reason: "", head: kv.head ?? "", serviceState: kv.active || "unknown", marker: unb64(kv.marker) };
}

/**
 * The prepare phase of an attempt (fetch, release directory, install), ahead of its switch:
 * changes nothing the service uses. Its failure is recorded in the attempt on the VPS, where
 * the update step skips the rest and the version record reports it; throws only when the
 * connection fails.
 */
export async function prepareOver(exec: Exec, app: AppSettings, commit: string, attemptId: string, envText?: string): Promise<string> {
    const script = lifecycleScript(app);
    const r = envText === undefined
        ? await run(exec, script, ["prepare", commit, attemptId])
        : await exec(prepareWithEnvCommand(script, commit, attemptId), { stdin: envText });
    const out = (r.stdout + r.stderr).trim();
    if (r.code === LOCK_HELD) {
        throw new Error(out.split("\n").pop());
    }
    if (r.code !== 0 || !out.endsWith(`prepare of attempt ${attemptId} ended`)) {
        // Killed midway (a reboot stops every process before the connection goes): a drop.
        throw new SshError("dropped", `the prepare of attempt ${attemptId} stopped before its end (exit ${r.code}): ${out.split("\n").slice(-2).join(" ")}`);
    }
    return out;
}

/** How long the fleet waits for a VPS that stopped answering in the middle of its update (a reboot). */
const COMEBACK_MS = 60_000;

/**
 * Runs `fn`; when it fails in a way `first` accepts, waits up to COMEBACK_MS for the VPS
 * to answer again (a reboot drops the connection, then refuses it for a while) and runs
 * `fn` again. Everything `fn` runs on the VPS must be safe to run twice.
 */
async function untilBack<T>(fn: () => Promise<T>, first: (e: SshError) => boolean): Promise<T> {
    try {
        return await fn();
    } catch (err) {
        if (!(err instanceof SshError && first(err))) throw err;
        for (const deadline = Date.now() + COMEBACK_MS; ; ) {
            await new Promise((r) => setTimeout(r, 1000));
            try {
                return await fn();
            } catch (again) {
                const rebooting = again instanceof SshError && (again.kind === "unreachable" || again.kind === "dropped");
                if (!rebooting || Date.now() > deadline) throw again;
            }
        }
    }
}

/** How the ssh2 step runner records a connection that dropped while the update ran. */
export const STEP_INTERRUPTED = "the connection dropped while the update ran";

interface Verdict {
    status: UpdateStatus;
    error: string;
    previous: string;
    stepSeconds: Record<string, number>;
}

/** Decides the attempt's outcome from what it left on the VPS, rolling back when it failed. */
async function judge(exec: Exec, script: LifecycleScript, ref: AttemptRef): Promise<Verdict> {
    const kv = parseKeyValues((await run(exec, script, ["inspect", ref.attemptId])).stdout);
    const previous = kv.previous || kv.lastgood || "";
    const stepSeconds = Object.fromEntries(Object.entries(kv).filter(([k]) => k.startsWith("time-")).map(([k, v]) => [k.slice(5), Number(v)]));
    const conclude = (status: UpdateStatus, good: string, error: string) =>
        run(exec, script, ["conclude", ref.attemptId, status, good || "-", Buffer.from(error).toString("base64")]).then(() => ({ status, error, previous, stepSeconds }));
    if (kv.outcome) {
        // Concluded by an earlier run (say, one whose state a killed `pulumi up` never saved).
        const moved = kv.outcome === "success" && kv.head !== ref.commit;
        return moved
            ? { status: "failed", previous, stepSeconds, error: `attempt ${ref.attemptId} was concluded earlier, but the VPS now runs ${kv.head || "nothing"}; the next up retries it` }
            : { status: kv.outcome as UpdateStatus, previous, stepSeconds, error: unb64(kv.error) };
    }
    if (kv.ran !== "1") {
        return conclude("failed", "", "the update step did not run on this VPS");
    }
    const forwardError = unb64(kv.failed);
    if (!forwardError && kv.head === ref.commit && (kv.noop === "1" || kv.verified === ref.commit)) {
        return conclude("success", ref.commit, "");
    }
    const state = `HEAD ${kv.head || "unknown"}, service ${kv.active || "unknown"}`;
    if (forwardError && phaseOf(forwardError.split(" ")[0]) === "prepare") {
        // Nothing the service uses was touched: no rollback, and last-good stays.
        return conclude("failed", "", `prepare failed before any switch: ${forwardError}; the service was not touched (${state})`);
    }
    if (!forwardError && phaseOf(kv.step) === "prepare") {
        // The run stopped (or never went on) before its first switch step started.
        const prepared = stepSeconds[kv.step] !== undefined && kv.step === stepsOf("prepare").pop();
        return conclude("failed", "", `${prepared ? "the release was prepared, but the switch never started" : `the update stopped during prepare (${kv.step})`}: ` +
            `the connection dropped, the VPS rebooted or its update step could not reach it; the service was not touched (${state})`);
    }
    // No step failed and verify never finished: the run itself stopped (a reboot, a dropped
    // connection, a killed session). time-<step> marks each step that ran to its end.
    const lastDone = STEP_NAMES.filter((s) => stepSeconds[s] !== undefined).pop();
    const why = forwardError || (stepSeconds[VERIFYING_STEP] === undefined
        ? `the update stopped ${lastDone ? `after ${lastDone}` : "before its first step"} and never reached the end of verify (${state}): the connection dropped or the VPS rebooted mid-update`
        : `verify did not pass (${state})`);
    if (!isSha(previous)) {
        return conclude("failed", "", `${why}; no previous commit is known, so the VPS was not rolled back`);
    }
    const rb = await run(exec, script, ["rollback", previous, ref.attemptId, ref.healthUrl]).catch((e) => ({ code: -1, stdout: describeError(e), stderr: "" }));
    if (rb.code === 0) {
        return conclude("rolled_back", previous, `${why}; rolled back to ${previous}`);
    }
    const rbWhy = (rb.stdout + rb.stderr).trim().split("\n").slice(-3).join(" ");
    return conclude("failed", "", `${why}; ROLLBACK TO ${previous} ALSO FAILED: ${rbWhy}`);
}

/**
 * Judges the attempt the update step just ran and, when it failed or verify did not
 * pass, rolls the VPS back to the commit prepare remembered, once (a failed rollback is
 * reported, never retried). The marker is removed on every path. Never throws.
 */
export async function finishAttempt(target: SshTarget, ref: AttemptRef): Promise<AttemptOutcome> {
    try {
        // The step reached this VPS moments ago: one that does not answer now is most
        // likely rebooting (the update may have caused it). Give it a while to come back.
        // `keep`: the update step's connection to this VPS, when it left one (stepRunner ssh2).
        return await untilBack(() => withSsh(target, (exec) => finishAttemptOver(exec, ref), { keep: true }), (e) => e.kind === "unreachable");
    } catch (err) {
        return { updateStatus: "failed", currentVersion: "", previousVersion: "", serviceState: "unknown", error: describeError(err), lastUpdateAt: new Date().toISOString() };
    }
}

/** finishAttempt over a connection that is already open; throws when the connection fails. */
export async function finishAttemptOver(exec: Exec, ref: AttemptRef): Promise<AttemptOutcome> {
    const script = lifecycleScript(ref.app);
    const v = await judge(exec, script, ref);
    const after = parseKeyValues((await run(exec, script, ["readback"])).stdout);
    return {
        updateStatus: v.status, currentVersion: after.head ?? "", previousVersion: v.previous, serviceState: after.active || "unknown",
        error: v.error, lastUpdateAt: new Date().toISOString(), stepSeconds: v.stepSeconds,
    };
}
