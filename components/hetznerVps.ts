import * as pulumi from "../boot/sdk";
import * as hcloud from "@pulumi/hcloud";
import { HetznerServerSpec } from "../config/config";
import { SshKeyPair } from "../providers/resources";

export interface HetznerVpsArgs {
    /** Server type, location and image. */
    readonly server: HetznerServerSpec;
    /** The server's cloud-init user-data, made from the host key pair this VPS generates. */
    readonly userData: (hostKey: SshKeyPair) => pulumi.Output<string>;
    readonly sshKeyId: pulumi.Input<string>;
    readonly firewallId: pulumi.Input<number>;
}

/** One provisioned VPS: its host key, the server with cloud-init, and its address. */
export class HetznerVps extends pulumi.ComponentResource {
    public readonly ipv4Address: pulumi.Output<string>;
    /** The VPS's host public key, pinned from the first connection on. */
    public readonly hostKey: pulumi.Output<string>;

    constructor(name: string, args: HetznerVpsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("rachel-fleet:hetzner:Vps", name, {}, opts);
        const self = { parent: this };
        const hostKey = new SshKeyPair(`${name}-hostkey`, `${name}-host`, self);
        const userData = args.userData(hostKey);
        const server = new hcloud.Server(`${name}-server`, {
            name,
            serverType: args.server.serverType,
            location: args.server.location,
            image: args.server.image,
            sshKeys: [args.sshKeyId],
            firewallIds: [args.firewallId],
            publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
            // Holds the host's private key: a secret in state.
            userData: pulumi.secret(userData),
            labels: { "managed-by": "rachel-fleet" },
        }, {
            ...self,
            // A new release or a rotated key must never rebuild a running server.
            ignoreChanges: ["userData", "sshKeys", "image"],
        });
        this.ipv4Address = server.ipv4Address;
        this.hostKey = hostKey.publicKey;
        this.registerOutputs({ ipv4Address: this.ipv4Address, hostKey: this.hostKey });
    }
}
