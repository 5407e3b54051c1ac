import * as fs from "fs";
import { AppSettings, DEFAULTS } from "../../config/config";
import { StepContext, attemptIdFor, healthUrlFor, updateSteps } from "../../lifecycle/commands";
import { AttemptOutcome, HostReading, finishAttempt, readHost } from "../../lifecycle/hostOps";
import { SshTarget, withSsh } from "../../lifecycle/ssh";
import { LabHost, LabStatus } from "../../lab/labStatus";

/** The app settings the lab's sample app runs with; timeouts short enough for tests. */
export function labApp(status: LabStatus, over: Partial<AppSettings> = {}): AppSettings {
    return {
        ...DEFAULTS,
        repoUrl: status.repoUrl,
        healthUrl: status.healthUrlTemplate,
        settleSeconds: 6,
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
    probe: HostReading;
    /** Each step's output, as the remote.Command would have recorded it. */
    steps: { name: string; stdout: string }[];
    outcome?: AttemptOutcome;
}

/**
 * One host's update exactly as the component runs it, without the engine: the
 * probe, then the remote.Command steps (the same strings, in order, one SSH session
 * each like the command provider), then the version provider's finishAttempt.
 */
export async function driveUpdate(target: SshTarget, app: AppSettings, commit: string, attempt: number): Promise<DriveResult> {
    const probe = await readHost(target, app);
    if (!probe.reachable) {
        return { probe, steps: [] };
    }
    const ctx: StepContext = { app, target: commit, attemptId: attemptIdFor(commit, attempt), healthUrl: healthUrlFor(app, target.host) };
    const steps: DriveResult["steps"] = [];
    for (const step of updateSteps(ctx)) {
        const r = await withSsh(target, (exec) => exec(step.command));
        if (r.code !== 0) {
            throw new Error(`${step.name} exited ${r.code}: a step must record failures and exit 0\n${r.stdout}${r.stderr}`);
        }
        steps.push({ name: step.name, stdout: r.stdout });
    }
    const outcome = await finishAttempt(target, ctx);
    return { probe, steps, outcome };
}
