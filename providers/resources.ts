import * as pulumi from "../boot/sdk";
import { RuntimeDynamicResource } from "./runtime";
import { StepSpec, VersionSpec } from "./types";

/** One VPS's update step run over ssh2 (stepRunner ssh2); logic in remoteStepProvider.ts. */
export class RemoteStep extends RuntimeDynamicResource {
    declare readonly stdout: pulumi.Output<string>;

    constructor(name: string, spec: pulumi.Input<StepSpec>, opts?: pulumi.CustomResourceOptions) {
        super("RemoteStep", name, { spec, stdout: undefined }, opts);
    }
}

/** Records a VPS's versions in stack state and rolls it back when its update failed; logic in versionProvider.ts. */
export class VpsVersion extends RuntimeDynamicResource {
    declare readonly currentVersion: pulumi.Output<string>;
    declare readonly previousVersion: pulumi.Output<string>;
    declare readonly targetVersion: pulumi.Output<string>;
    declare readonly updateStatus: pulumi.Output<string>;
    declare readonly lastUpdateAt: pulumi.Output<string>;
    declare readonly error: pulumi.Output<string>;
    declare readonly serviceState: pulumi.Output<string>;

    constructor(name: string, spec: pulumi.Input<VersionSpec>, opts?: pulumi.CustomResourceOptions) {
        super("VpsVersion", name, {
            spec,
            currentVersion: undefined,
            previousVersion: undefined,
            targetVersion: undefined,
            updateStatus: undefined,
            lastUpdateAt: undefined,
            error: undefined,
            serviceState: undefined,
        }, opts);
    }
}

/**
 * An ed25519 key pair generated once and then kept in stack state: a resource, so it is
 * stable across runs, and its private half is a secret output. Used for the fleet's
 * login key and for each provisioned VPS's host key. Logic in keyPairProvider.ts.
 */
export class SshKeyPair extends RuntimeDynamicResource {
    declare readonly publicKey: pulumi.Output<string>;
    declare readonly privateKey: pulumi.Output<string>;

    constructor(name: string, comment: string, opts?: pulumi.CustomResourceOptions) {
        super("SshKeyPair", name, { comment, publicKey: undefined, privateKey: undefined }, { ...opts, additionalSecretOutputs: ["privateKey"] });
    }
}
