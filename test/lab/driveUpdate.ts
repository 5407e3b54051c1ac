import * as fs from "fs";
import { AppSettings, DEFAULTS } from "../../config/config";
import { AttemptOutcome, HostReading, finishAttempt, readHost } from "../../lifecycle/hostOps";
import { attemptIdFor, healthUrlFor, lifecycleScript, updateCommand } from "../../lifecycle/script";
import { SshTarget, withSsh } from "../../lifecycle/ssh";
import { LabHost, LabStatus } from "../../lab/labStatus";

/** The app settings the lab's sample app runs with; timeouts short enough for tests. */
export function labApp(status: LabStatus, over: Partial<AppSettings> = {}): AppSettings {
    return {
        ...DEFAULTS,
        repoUrl: status.repoUrl,
        healthUrl: status.healthUrlTemplate,
        settleSeconds: 6,
        // Defaults to 10 s; these tests time crashes against the settle window alone.
        minUptimeSeconds: 0,
        connectTimeout: 5,
        ...over,
    };
}

export function targetFor(status: LabStatus, host: LabHost, app: AppSettings): SshTarget {
    return {
        host: host.host,
        port: host.port,
        user: host.user,
        hostKey: host.hostKey,
        privateKey: fs.readFileSync(status.privateKeyPath, "utf8"),
        connectTimeout: app.connectTimeout,
    };
}

export interface DriveResult {
    reading: HostReading;
    /** The update step's output, as the step resource would have recorded it; undefined when it did not run. */
    stepOutput?: string;
    outcome?: AttemptOutcome;
}

/**
 * One host's update exactly as the fleet runs it, without the engine: the program's
 * reading (which installs the lifecycle script), the update step in its own SSH session
 * like the step resource, then the version provider's finishAttempt.
 */
export async function driveUpdate(target: SshTarget, app: AppSettings, commit: string, attempt: number, opts: { envText?: string } = {}): Promise<DriveResult> {
    const attemptId = attemptIdFor(commit, attempt);
    // With an environment file, the program's reading prepares the attempt and delivers it.
    const reading = await readHost(target, app, opts.envText === undefined ? undefined : { commit, attemptId, envText: opts.envText });
    if (!reading.reachable) {
        return { reading };
    }
    const healthUrl = healthUrlFor(app, target.host);
    const r = await withSsh(target, (exec) => exec(updateCommand(lifecycleScript(app), commit, attemptId, healthUrl)));
    if (r.code !== 0) {
        throw new Error(`the update step exited ${r.code}: it must record failures and exit 0\n${r.stdout}${r.stderr}`);
    }
    const outcome = await finishAttempt(target, { app, commit, attemptId, healthUrl });
    return { reading, stepOutput: r.stdout, outcome };
}
