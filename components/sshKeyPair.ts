import * as pulumi from "@pulumi/pulumi";
import * as opensshKeys from "../provisioning/opensshKeys";

/**
 * An ed25519 key pair generated once and then kept in stack state: a resource, so
 * it is stable across runs, and its private half is a secret output. Used for the
 * fleet's login key and for each provisioned VPS's host key.
 */
const keyPairProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { comment: string }) {
        const k = opensshKeys.generateOpenSshKeyPair(inputs.comment);
        return { id: inputs.comment, outs: { comment: inputs.comment, publicKey: k.publicKey, privateKey: k.privateKey } };
    },
};

export class SshKeyPair extends pulumi.dynamic.Resource {
    declare readonly publicKey: pulumi.Output<string>;
    declare readonly privateKey: pulumi.Output<string>;

    constructor(name: string, comment: string, opts?: pulumi.CustomResourceOptions) {
        super(keyPairProvider, name, { comment, publicKey: undefined, privateKey: undefined },
            { ...opts, additionalSecretOutputs: ["privateKey"] }, "rachel-fleet", "SshKeyPair");
    }
}
