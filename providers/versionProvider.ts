import { AttemptOutcome, finishAttempt, readHost } from "../lifecycle/hostOps";
import { attemptIdFor } from "../lifecycle/script";
import { FleetProviderConfig, readProviderConfig, sshTarget } from "./providerConfig";
import { VersionSpec, VersionState } from "./types";

/**
 * The version record of one VPS: after the update step it judges the attempt, rolls the
 * VPS back when a step or verify failed, and records current / previous / target
 * version, status and time in stack state; on `pulumi refresh` it reads what the VPS
 * really runs, so a VPS moved by hand shows as drift. Loaded from the installed project
 * at run time (providers/load.js), also for held hosts.
 */
let config: FleetProviderConfig | undefined;

async function finish(spec: VersionSpec, olds?: VersionState): Promise<VersionState> {
    const base = { spec, targetVersion: spec.commit };
    if (!spec.reachable) {
        // Nothing ran on the VPS: it still runs what it ran before.
        return {
            ...base,
            currentVersion: olds?.currentVersion ?? "",
            previousVersion: olds?.previousVersion ?? "",
            updateStatus: "failed",
            lastUpdateAt: new Date().toISOString(),
            error: spec.unreachableReason || "the VPS could not be reached",
            serviceState: "unknown",
        };
    }
    let outcome: AttemptOutcome;
    try {
        const target = sshTarget(config, spec.endpoint);
        outcome = await finishAttempt(target, { app: config!.app, commit: spec.commit, attemptId: spec.attemptId ?? attemptIdFor(spec.commit, spec.attempt), healthUrl: spec.healthUrl });
    } catch (e) {
        outcome = { updateStatus: "failed", currentVersion: "", previousVersion: "", serviceState: "unknown", error: (e as Error).message, lastUpdateAt: new Date().toISOString() };
    }
    const { stepSeconds: _timings, ...recorded } = outcome;
    return { ...base, ...recorded };
}

async function refreshed(props: VersionState): Promise<VersionState> {
    const r = await readHost(sshTarget(config, props.spec.endpoint), config!.app);
    if (!r.reachable) {
        return { ...props, serviceState: "unreachable" };
    }
    const drifted = r.head !== props.targetVersion && props.updateStatus === "success";
    // The recorded status stays what the attempt ended with; an update marker (an update
    // running now, or one interrupted) is shown beside it, for the console to judge fresh or stale.
    const { marker: _old, ...rest } = props;
    return {
        ...rest,
        currentVersion: r.head,
        serviceState: r.serviceState,
        error: drifted ? `drift: the VPS runs ${r.head}, not ${props.targetVersion}` : props.error,
        ...(r.marker ? { marker: r.marker } : {}),
    };
}

export const provider = {
    async configure(req: { config: { get(key: string): unknown } }) {
        config = readProviderConfig(req);
    },
    async create(inputs: { spec: VersionSpec }) {
        return { id: inputs.spec.hostName, outs: await finish(inputs.spec) };
    },
    async update(_id: string, olds: VersionState, news: { spec: VersionSpec }) {
        return { outs: await finish(news.spec, olds) };
    },
    async read(id: string, props: VersionState) {
        return { id, props: await refreshed(props), inputs: { spec: props.spec } };
    },
};
