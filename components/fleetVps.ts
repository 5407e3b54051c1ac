import * as pulumi from "../boot/sdk";
import type * as command from "@pulumi/command";
import { StepRunner } from "../config/config";
import { VPS_TYPE } from "../config/resourceTypes";
import { HostReading } from "../lifecycle/hostOps";
import { LifecycleScript, attemptIdFor, updateCommand } from "../lifecycle/script";
import { Endpoint } from "../lifecycle/ssh";
import { RemoteStep, VpsVersion } from "../providers/resources";
import { FleetSshProvider } from "../providers/runtime";
import { StepSpec, VersionSpec } from "../providers/types";
import { HostRecord } from "../stages/ledger";

export interface FleetVpsArgs {
    /** Where the VPS's SSH server is (an output for a provisioned VPS). */
    readonly endpoint: pulumi.Input<Endpoint>;
    /** The SSH private key for remote.Command's connection; must be a Pulumi secret. */
    readonly privateKey: pulumi.Input<string>;
    /** The dynamic provider instance that holds the same key for the fleet's own resources. */
    readonly sshProvider: FleetSshProvider;
    /** The commit this VPS's resources are keyed on. */
    readonly commit: string;
    /** Which attempt at `commit` (a failed VPS is retried with the next). */
    readonly attempt: number;
    /** The stack's own id (stages/ledger.ts stackIdOf): part of the attempt's name on the VPS. */
    readonly stackId: string;
    /** Whether this stage updates the VPS; otherwise its resources are registered exactly as stored. */
    readonly changing: boolean;
    /** The program's reading just before the update (only in `up`); an unreachable VPS gets no command. */
    readonly reading?: HostReading;
    readonly script: LifecycleScript;
    /** The VPS's health URL, {host} filled in; empty: no HTTP check. */
    readonly healthUrl: pulumi.Input<string>;
    /** What runs the update step: remote.Command, or the fleet's own step resource. */
    readonly stepRunner: StepRunner;
}

/**
 * One VPS of the fleet: its update step (a remote.Command, or a RemoteStep over ssh2,
 * running the one lifecycle script keyed on commit and attempt) and its version record,
 * which judges the attempt, rolls the VPS back when it failed, and reads back what it
 * runs. A VPS this stage does not change registers the same children with every input
 * ignored, so preview shows no change for it and it keeps its stored versions.
 */
/**
 * @pulumi/command, loaded only by a stack that runs its steps with it: the package loads
 * the SDK's whole index (see boot/sdk.ts), which the ssh2 runner never needs.
 */
function commandSdk(): typeof command {
    return require("@pulumi/command");
}

export class FleetVps extends pulumi.ComponentResource {
    /** The VPS's version-tracking fields, as exported in the `fleet` output. */
    public readonly record: pulumi.Output<HostRecord>;

    constructor(name: string, args: FleetVpsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(VPS_TYPE, name, {}, opts);
        const hold = args.changing ? {} : { ignoreChanges: ["*"] };
        const attemptId = attemptIdFor(args.commit, args.attempt, args.stackId);
        // In preview nothing is read, so the command shows as it will run on a reachable VPS.
        const reachable = args.reading?.reachable ?? true;
        const cmd = pulumi.all([args.healthUrl, attemptId]).apply(([h, id]) => (reachable ? updateCommand(args.script, args.commit, id, h) : undefined));
        const endpoint = pulumi.output(args.endpoint);
        const step = args.stepRunner === "command"
            ? new (commandSdk()).remote.Command(`${name}-update`, {
                connection: endpoint.apply((e) => ({
                    host: e.host, port: e.port, user: e.user, hostKey: e.hostKey,
                    privateKey: args.privateKey, perDialTimeout: e.connectTimeout, dialErrorLimit: 3,
                })),
                // A new attempt changes the command, which runs it again (an in-place update):
                // no trigger, so no replacement and no pending create when a run is killed.
                create: cmd as pulumi.Output<string>,
                logging: "stdout",
            }, { parent: this, ...hold })
            : new RemoteStep(`${name}-update`, pulumi.all([endpoint, cmd]).apply(([e, c]): StepSpec => ({ hostName: name, endpoint: e, command: c })),
                { parent: this, provider: args.sshProvider, ...hold });
        const spec = pulumi.all([endpoint, args.healthUrl, attemptId]).apply(([e, h, id]): VersionSpec => ({
            hostName: name, endpoint: e, commit: args.commit, attempt: args.attempt, attemptId: id, healthUrl: h,
            reachable, unreachableReason: args.reading?.reason ?? "",
        }));
        const version = new VpsVersion(`${name}-version`, spec, { parent: this, provider: args.sshProvider, dependsOn: [step], ...hold });
        this.record = pulumi
            .all([version.currentVersion, version.previousVersion, version.targetVersion, version.updateStatus, version.lastUpdateAt, version.error])
            .apply(([currentVersion, previousVersion, targetVersion, updateStatus, lastUpdateAt, error]) => ({
                currentVersion, previousVersion, targetVersion,
                updateStatus: updateStatus as HostRecord["updateStatus"],
                lastUpdateAt, error: error ?? "", attempt: args.attempt, managed: true,
            }));
        // Nothing is stored on the component: the record is in the stack's `fleet` output.
        this.registerOutputs({});
    }
}
