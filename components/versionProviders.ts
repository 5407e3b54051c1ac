import * as pulumi from "@pulumi/pulumi";
import * as hostOps from "../lifecycle/hostOps";
import { attemptIdFor } from "../lifecycle/commands";
import { AppSettings } from "../config/config";
import { SshTarget } from "../lifecycle/ssh";

/**
 * Dynamic providers. Each object is serialized into the stack and run by the engine
 * in another process, so it captures only plain modules (hostOps and what it
 * imports: ssh2 is required by name) and no secrets: keys arrive as inputs, which
 * the engine keeps encrypted, and outputs carrying them are declared secret.
 */

export interface ProbeInputs {
    hostName: string;
    target: SshTarget;
    app: AppSettings;
    targetCommit: string;
    attempt: number;
}

export interface ProbeOutputs extends ProbeInputs {
    reachable: boolean;
    reason: string;
    headBefore: string;
    probedAt: string;
}

export interface VersionInputs {
    hostName: string;
    target: SshTarget;
    app: AppSettings;
    healthUrl: string;
    targetCommit: string;
    attempt: number;
    /** From the probe: the steps ran only when the VPS was reachable with its pinned key. */
    reachable: boolean;
    probeReason: string;
    /** The verify step's output: ties this resource to the end of the step chain. */
    verifyOutput: string;
}

export interface VersionOutputs extends VersionInputs {
    currentVersion: string;
    previousVersion: string;
    targetVersion: string;
    updateStatus: string;
    lastUpdateAt: string;
    error: string;
    serviceState: string;
}

/** Inputs whose change means "run again"; the serialized provider itself is not one of them. */
const KEYED = ["targetCommit", "attempt", "reachable"];
const connectionChanged = (a: SshTarget, b: SshTarget) => a.host !== b.host || a.port !== b.port || a.user !== b.user;

// Methods call these free functions rather than each other: a serialized provider
// object cannot refer to itself by name.
async function probe(inputs: ProbeInputs): Promise<ProbeOutputs> {
    const r = await hostOps.readHost(inputs.target, inputs.app);
    return { ...inputs, reachable: r.reachable, reason: r.reason, headBefore: r.head, probedAt: new Date().toISOString() };
}

async function finishVersion(inputs: VersionInputs, olds?: VersionOutputs): Promise<VersionOutputs> {
    const base = { ...inputs, targetVersion: inputs.targetCommit };
    if (!inputs.reachable) {
        // An unreachable VPS still runs what it ran before: keep the last known versions.
        return {
            ...base,
            currentVersion: olds?.currentVersion ?? "",
            previousVersion: olds?.previousVersion ?? "",
            updateStatus: "failed",
            lastUpdateAt: new Date().toISOString(),
            error: inputs.probeReason || "unreachable",
            serviceState: "unknown",
        };
    }
    const ctx = {
        app: inputs.app,
        target: inputs.targetCommit,
        attemptId: attemptIdFor(inputs.targetCommit, inputs.attempt),
        healthUrl: inputs.healthUrl,
    };
    return { ...base, ...(await hostOps.finishAttempt(inputs.target, ctx)) };
}

function keyedChange(olds: any, news: any): boolean {
    return KEYED.some((k) => k in news && olds[k] !== news[k]) || connectionChanged(olds.target, news.target);
}

export const probeProvider: pulumi.dynamic.ResourceProvider<ProbeInputs, ProbeOutputs> = {
    async diff(_id, olds, news) {
        return { changes: keyedChange(olds, news), replaces: [] };
    },
    async create(inputs) {
        return { id: `${inputs.hostName}-probe`, outs: await probe(inputs) };
    },
    async update(_id, _olds, news) {
        return { outs: await probe(news) };
    },
};

export const versionProvider: pulumi.dynamic.ResourceProvider<VersionInputs, VersionOutputs> = {
    async diff(_id, olds, news) {
        return { changes: keyedChange(olds, news), replaces: [] };
    },
    async create(inputs) {
        return { id: inputs.hostName, outs: await finishVersion(inputs) };
    },
    async update(_id, olds, news) {
        return { outs: await finishVersion(news, olds) };
    },
    /** `pulumi refresh`: what the VPS really runs, so a VPS moved by hand shows as drift. */
    async read(id, props) {
        const p = props as VersionOutputs;
        const r = await hostOps.readHost(p.target, p.app);
        const outs: VersionOutputs = r.reachable
            ? {
                  ...p,
                  currentVersion: r.head,
                  serviceState: r.serviceState,
                  updateStatus: r.marker ? "updating" : p.updateStatus,
                  error: r.head !== p.targetVersion && p.updateStatus === "success"
                      ? `drift: the VPS runs ${r.head}, not ${p.targetVersion}`
                      : p.error,
              }
            : { ...p, serviceState: "unreachable" };
        const inputs: Partial<VersionInputs> = {};
        for (const k of ["hostName", "target", "app", "healthUrl", "targetCommit", "attempt", "reachable", "probeReason", "verifyOutput"] as const) {
            (inputs as any)[k] = (p as any)[k];
        }
        return { id, props: outs, inputs: inputs as VersionOutputs };
    },
};

/** Reads whether a VPS is reachable with its pinned key before any remote.Command dials it. */
export class HostProbe extends pulumi.dynamic.Resource {
    declare readonly reachable: pulumi.Output<boolean>;
    declare readonly reason: pulumi.Output<string>;
    declare readonly headBefore: pulumi.Output<string>;

    constructor(name: string, args: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super(probeProvider, name, { ...args, reachable: undefined, reason: undefined, headBefore: undefined, probedAt: undefined },
            { ...opts, additionalSecretOutputs: ["target"] }, "rachel-fleet", "HostProbe");
    }
}

/** Records a VPS's versions in stack state, and rolls it back when its update failed. */
export class VpsVersion extends pulumi.dynamic.Resource {
    declare readonly currentVersion: pulumi.Output<string>;
    declare readonly previousVersion: pulumi.Output<string>;
    declare readonly targetVersion: pulumi.Output<string>;
    declare readonly updateStatus: pulumi.Output<string>;
    declare readonly lastUpdateAt: pulumi.Output<string>;
    declare readonly error: pulumi.Output<string>;
    declare readonly serviceState: pulumi.Output<string>;

    constructor(name: string, args: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super(versionProvider, name, {
            ...args,
            currentVersion: undefined,
            previousVersion: undefined,
            targetVersion: undefined,
            updateStatus: undefined,
            lastUpdateAt: undefined,
            error: undefined,
            serviceState: undefined,
        }, { ...opts, additionalSecretOutputs: ["target"] }, "rachel-fleet", "VpsVersion");
    }
}
