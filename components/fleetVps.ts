import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { StepContext, attemptIdFor, healthUrlFor, updateSteps } from "../lifecycle/commands";
import { AppSettings, StepRunner } from "../config/config";
import { RemoteStep } from "./remoteStep";
import { HostProbe, VpsVersion } from "./versionProviders";
import { HostPlan } from "../stages/plan";
import { HostRecord } from "../stages/ledger";

export interface FleetVpsArgs {
    /** The VPS's address (known at construction for static hosts; an output for provisioned ones). */
    readonly host: pulumi.Input<string>;
    /** SSH port. */
    readonly port: number;
    /** SSH user; the service commands run through its sudo rule. */
    readonly user: string;
    /** Pinned host public key, authorized_keys form. */
    readonly hostKey: pulumi.Input<string>;
    /** The SSH private key; must be a Pulumi secret. */
    readonly privateKey: pulumi.Input<string>;
    /** How the app is laid out and run. */
    readonly app: AppSettings;
    /** The release this stack rolls out. */
    readonly targetCommit: string;
    /** What this stage does with the VPS: update, or hold it exactly as it is. */
    readonly plan: HostPlan;
    /** The VPS that must finish first (its concurrency lane), if any. */
    readonly after?: FleetVps;
    /** What runs each step: remote.Command, or the fleet's own SSH step resource. */
    readonly stepRunner: StepRunner;
}

/** Every input of our children, so a held VPS's resources keep exactly their stored inputs. */
const HOLD_COMMAND = ["create", "update", "delete", "connection", "environment", "triggers", "logging", "stdin", "addPreviousOutputInEnv"];
const HOLD_DYNAMIC = ["__provider", "hostName", "target", "app", "healthUrl", "targetCommit", "attempt", "reachable", "probeReason", "verifyOutput", "step", "command", "runKey"];

/**
 * One VPS of the fleet. Children, in order: a probe (reachability with the pinned
 * key), one remote.Command per update step keyed on (target commit, attempt), and
 * the version record, which reads back what the VPS runs and rolls it back when a
 * step failed. A held VPS registers the same children with every input ignored,
 * so preview shows no change for it.
 */
export class FleetVps extends pulumi.ComponentResource {
    /** The VPS's version-tracking fields, as exported in the `fleet` output. */
    public readonly record: pulumi.Output<HostRecord>;
    /** Resolves when this VPS's update has finished (success, rollback or failure). */
    public readonly done: pulumi.Resource;

    constructor(name: string, args: FleetVpsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("rachel-fleet:fleet:Vps", name, {}, opts);
        const hold = args.plan.mode === "hold";
        // A held VPS is keyed on the commit it holds, so even a child it never had (say,
        // after a stepRunner change) is created for that commit, never for the new release.
        const commit = hold && /^[0-9a-f]{40}$/.test(args.plan.target) ? args.plan.target : args.targetCommit;
        const self = { parent: this };
        const holdCommand = hold ? { ignoreChanges: HOLD_COMMAND } : {};
        const holdDynamic = hold ? { ignoreChanges: HOLD_DYNAMIC } : {};
        const privateKey = pulumi.secret(args.privateKey);
        const attempt = Math.max(1, args.plan.attempt);
        const target = pulumi.all([args.host, args.hostKey, privateKey]).apply(([host, hostKey, key]) => ({
            host,
            port: args.port,
            user: args.user,
            hostKey,
            privateKey: key,
            connectTimeout: args.app.connectTimeout,
        }));
        const healthUrl = pulumi.output(args.host).apply((h) => healthUrlFor(args.app, h));

        const probe = new HostProbe(`${name}-probe`, {
            hostName: name,
            target,
            app: args.app,
            targetCommit: commit,
            attempt,
        }, { ...self, ...holdDynamic, dependsOn: args.after ? [args.after.done] : [] });

        const connection: command.types.input.remote.ConnectionArgs = {
            host: args.host,
            port: args.port,
            user: args.user,
            privateKey,
            hostKey: args.hostKey,
            perDialTimeout: args.app.connectTimeout,
            dialErrorLimit: 3,
        };
        const attemptId = attemptIdFor(commit, attempt);
        const steps = pulumi.all([healthUrl]).apply(([h]) => {
            const ctx: StepContext = { app: args.app, target: commit, attemptId, healthUrl: h };
            return updateSteps(ctx);
        });
        let previous: pulumi.Resource = probe;
        let verify: command.remote.Command | RemoteStep | undefined;
        for (const [i, step] of ["prepare", "fetch", "checkout", "install", "restart", "verify"].entries()) {
            // An unreachable VPS (or one presenting another host key) gets no command at all:
            // with `create` unset the provider does not dial, so the stage goes on.
            const create = pulumi.all([probe.reachable, steps]).apply(([ok, s]) => (ok ? s[i].command : undefined));
            // A step runs once per attempt and never otherwise: the attempt id is its trigger
            // (a new attempt replaces the resource, which runs `create`), and `update` is a
            // no-op, so rotating the SSH key or changing a timeout re-runs nothing on a VPS.
            verify = args.stepRunner === "command"
                ? new command.remote.Command(`${name}-${step}`, {
                    connection,
                    create: create as pulumi.Output<string>,
                    update: ":",
                    triggers: [attemptId],
                    logging: "stdoutAndStderr",
                }, { ...self, ...holdCommand, dependsOn: [previous] })
                : new RemoteStep(`${name}-${step}`, { hostName: name, step, target, command: create, runKey: attemptId },
                    { ...self, ...holdDynamic, dependsOn: [previous] });
            previous = verify;
        }

        const version = new VpsVersion(`${name}-version`, {
            hostName: name,
            target,
            app: args.app,
            healthUrl,
            targetCommit: commit,
            attempt,
            reachable: probe.reachable,
            probeReason: probe.reason,
            verifyOutput: verify!.stdout,
        }, { ...self, ...holdDynamic, dependsOn: [verify!] });
        this.done = version;

        this.record = pulumi
            .all([version.currentVersion, version.previousVersion, version.targetVersion, version.updateStatus, version.lastUpdateAt, version.error])
            .apply(([currentVersion, previousVersion, targetVersion, updateStatus, lastUpdateAt, error]) => ({
                currentVersion,
                previousVersion,
                targetVersion,
                updateStatus: updateStatus as HostRecord["updateStatus"],
                lastUpdateAt,
                error: error ?? "",
                // A held VPS keeps the attempt its resources were keyed on.
                attempt,
                managed: true,
            }));
        this.registerOutputs({ record: this.record });
    }
}
