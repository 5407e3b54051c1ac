import * as pulumi from "@pulumi/pulumi";
import { runInPulumiStack, registerStackTransformation } from "@pulumi/pulumi/runtime/stack";
import { hostReader } from "../../fleet/members";
import { RecheckReading } from "../../stages/gate";

/** One resource as the program registered it, with the options that decide its diff. */
export interface Registered {
    type: string;
    name: string;
    inputs: any;
    ignoreChanges: string[];
    dependsOn: string[];
    /** Whether the engine would refuse to delete it (protect, as inherited from its parent). */
    protected: () => boolean;
}

/** How the fake fleet answers: which VPSs are reachable, how each update ends. */
export interface FakeFleet {
    unreachable?: string[];
    /** Hosts whose update ends rolled back (others succeed). */
    rolledBack?: string[];
    /** The stack's previous outputs, read by the program through its self-reference. */
    /** The stack's outputs before this run; `stackId` is STACK_ID unless given (undefined: a new stack). */
    previousOutputs?: { fleet?: unknown; rollout?: unknown; stackId?: unknown; envDigests?: unknown };
    /** The error a failing host's version record reports (default: "<host> <status>"). */
    errors?: Record<string, string>;
    /** Hosts whose version record says failed (not rolled back). */
    failed?: string[];
    /** Filled with the environment file each host's prepare delivered. */
    delivered?: Record<string, string>;
    preview?: boolean;
    /** The stack's name (default dev): a shard's name picks its hosts. */
    stackName?: string;
    /** Per host, how the promotion re-check finds it (others: as their verify left them). */
    recheck?: Record<string, Partial<RecheckReading>>;
    /** Filled in: the hosts the program re-checked, in order. */
    rechecked?: string[];
    /** Filled in: every registration, also when the program then fails. */
    registered?: Registered[];
}

export const PROJECT = "rachel-fleet";
export const SHA_A = "a".repeat(40);
export const SHA_B = "b".repeat(40);
export const STACK_ID = "5eed1d00";

export function labConfig(n: number, extra: Record<string, string> = {}): Record<string, string> {
    const hosts = Array.from({ length: n }, (_, i) => ({
        name: `vps-${String(i + 1).padStart(2, "0")}`,
        host: `127.0.1.${i + 1}`,
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq7Yf8z0ffhC4mGzI4OaJbqYcA2dmF1k8Rk1y3Cj1bM",
    }));
    return {
        targetCommit: SHA_A,
        rolloutPercent: "10",
        sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n",
        hosts: JSON.stringify(hosts),
        ...extra,
    };
}

export const outputOf = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply((v) => resolve(v)));

/**
 * Runs index.ts under pulumi.runtime.setMocks and records every registration.
 * Dynamic resources answer as the fake fleet says; nothing leaves the process.
 */
export async function runProgram(config: Record<string, string>, fake: FakeFleet = {}, secretKeys = ["sshPrivateKey"]) {
    const registered: Registered[] = fake.registered ?? [];
    const servers = new Map<string, string>();
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                const name = args.name;
                if (args.type === "pulumi:pulumi:StackReference") {
                    return { id: args.inputs.name, state: { ...args.inputs, outputs: { stackId: STACK_ID, ...(fake.previousOutputs ?? {}) }, secretOutputNames: [] } };
                }
                if (args.type === "pulumi-nodejs:dynamic/rachel-fleet:VpsVersion") {
                    const spec = args.inputs.spec;
                    const host = spec.hostName;
                    const status = !spec.reachable || (fake.failed ?? []).includes(host) ? "failed" : (fake.rolledBack ?? []).includes(host) ? "rolled_back" : "success";
                    return {
                        id: name,
                        state: {
                            ...args.inputs,
                            currentVersion: status === "success" ? spec.commit : SHA_B,
                            previousVersion: SHA_B,
                            targetVersion: spec.commit,
                            updateStatus: status,
                            lastUpdateAt: "2026-11-22T00:00:00.000Z",
                            error: status === "success" ? "" : !spec.reachable ? spec.unreachableReason : fake.errors?.[host] ?? `${host} ${status}`,
                            serviceState: "active",
                        },
                    };
                }
                if (args.type === "command:remote:Command" || args.type === "pulumi-nodejs:dynamic/rachel-fleet:RemoteStep") {
                    return { id: name, state: { ...args.inputs, stdout: `${name} ok`, stderr: "" } };
                }
                if (args.type === "hcloud:index/server:Server") {
                    // Each server its own documentation address, so a reading names its server.
                    const ip = `203.0.113.${10 + servers.size}`;
                    servers.set(args.inputs.name, ip);
                    nameAt.set(ip, args.inputs.name);
                    return { id: name, state: { ...args.inputs, ipv4Address: ip } };
                }
                if (args.type === "pulumi-nodejs:dynamic/rachel-fleet:SshKeyPair") {
                    return { id: name, state: { ...args.inputs, publicKey: "ssh-ed25519 AAAAtest", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n" } };
                }
                return { id: `${name}-id`, state: args.inputs };
            },
            call(args) {
                throw new Error(`unmocked call ${args.token}`);
            },
        },
        PROJECT,
        fake.stackName ?? "dev",
        fake.preview ?? false,
        "organization",
    );
    // The program reads each changing VPS before updating it; here the fake fleet answers.
    const nameAt = new Map<string, string>((JSON.parse(config.hosts ?? "[]") as { name: string; host: string }[]).map((h) => [h.host, h.name]));
    hostReader.read = async (target, _app, prepare) => {
        const down = (fake.unreachable ?? []).includes(nameAt.get(target.host) ?? "");
        if (prepare && fake.delivered) fake.delivered[nameAt.get(target.host) ?? target.host] = prepare.envText ?? "(none)";
        return { reachable: !down, reason: down ? `rachel@${target.host}:22: unreachable (ECONNREFUSED)` : "", head: SHA_B, serviceState: "active", marker: "" };
    };
    hostReader.recheck = async (target) => {
        const name = nameAt.get(target.host) ?? "";
        fake.rechecked?.push(name);
        const down = (fake.unreachable ?? []).includes(name);
        const commit = config.targetCommit;
        const healthy: RecheckReading = {
            reachable: !down, reason: down ? `rachel@${target.host}:22: unreachable (ECONNREFUSED)` : "", head: commit, serviceState: "active",
            invocation: "inv-1", restarts: "0", verified: { commit, invocation: "inv-1", epoch: 1 }, marker: "",
        };
        return { ...healthy, ...(fake.recheck?.[name] ?? {}) };
    };
    const all: Record<string, string> = {};
    for (const [k, v] of Object.entries(config)) {
        all[`${PROJECT}:${k}`] = v;
    }
    pulumi.runtime.setAllConfig(all, secretKeys.map((k) => `${PROJECT}:${k}`));
    // Fresh module state each run: the program reads config when it runs.
    delete require.cache[require.resolve("../../index")];
    const program: () => Promise<Record<string, pulumi.Output<unknown> | unknown>> = require("../../index");
    let outputs: Record<string, unknown> = {};
    await runInPulumiStack(async () => {
        registerStackTransformation((args) => {
            registered.push({
                type: args.type,
                name: args.name,
                inputs: args.props,
                ignoreChanges: args.opts.ignoreChanges ?? [],
                dependsOn: ([] as unknown[]).concat(args.opts.dependsOn ?? []).map((r) => String((r as { __name?: string }).__name ?? "?")),
                protected: () => (args.resource as unknown as { __protect?: boolean }).__protect === true,
            });
            return undefined;
        });
        outputs = await program();
        return outputs;
    });
    const resolved: Record<string, unknown> = {};
    const secretOutputs: string[] = [];
    for (const [k, v] of Object.entries(outputs)) {
        resolved[k] = pulumi.Output.isInstance(v) ? await outputOf(v as pulumi.Output<unknown>) : v;
        if (pulumi.Output.isInstance(v) && (await pulumi.isSecret(v as pulumi.Output<unknown>))) secretOutputs.push(k);
    }
    return { registered, outputs: resolved as any, secretOutputs };
}

/** The hosts whose update step (remote.Command) a run registered as changing (not held), with their command. */
export async function updatingHosts(registered: Registered[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const r of registered.filter((x) => x.type === "command:remote:Command" && !x.ignoreChanges.includes("*"))) {
        out[r.name.replace(/-update$/, "")] = await valueOf(r.inputs.create);
    }
    return out;
}

/** Resolves a resource's recorded input (which may be an Output) to its value. */
export async function valueOf(x: unknown): Promise<any> {
    if (pulumi.Output.isInstance(x)) {
        return outputOf(x as pulumi.Output<unknown>);
    }
    return x;
}
