import * as pulumi from "../boot/sdk";
import * as hcloud from "@pulumi/hcloud";
import * as random from "@pulumi/random";
import { FleetConfig } from "../config/config";
import { FleetMember } from "../fleet/members";
import { HetznerVps } from "../components/hetznerVps";
import { cloudInitUserData } from "./cloudInit";
import { SshKeyPair } from "../providers/resources";

/**
 * The stack's own VPSs on Hetzner Cloud: one generated login key (a secret)
 * registered as an hcloud.SshKey, one firewall (SSH and the app port), and one
 * HetznerVps per configured server. They join the fleet like static hosts.
 */
export function provisionHetzner(cfg: FleetConfig): FleetMember[] {
    const h = cfg.hetzner!;
    const fleetKey = new SshKeyPair("fleet-login-key", "rachel-fleet");
    // Hetzner key and firewall names are unique per project: a random suffix keeps
    // two stacks of this program from colliding.
    const suffix = new random.RandomId("fleet-suffix", { byteLength: 3 });
    const sshKey = new hcloud.SshKey("fleet-ssh-key", {
        name: pulumi.interpolate`rachel-fleet-${suffix.hex}`,
        publicKey: fleetKey.publicKey,
    });
    const firewall = new hcloud.Firewall("fleet-firewall", {
        name: pulumi.interpolate`rachel-fleet-${suffix.hex}`,
        rules: [
            { direction: "in", protocol: "tcp", port: "22", sourceIps: h.sshSourceIps },
            { direction: "in", protocol: "tcp", port: String(h.appPort), sourceIps: ["0.0.0.0/0", "::/0"] },
        ],
    });
    return h.servers.map((server) => {
        const vps = new HetznerVps(server.name, {
            server,
            // The commit cloud-init prepares; later releases arrive through the update sequence.
            userData: (hostKey) => pulumi
                .all([fleetKey.publicKey, hostKey.publicKey, hostKey.privateKey])
                .apply(([authorizedKey, hostPublicKey, hostPrivateKey]) => cloudInitUserData({
                    app: cfg.app, sshUser: cfg.sshUser, commit: cfg.targetCommit, authorizedKey, hostPublicKey, hostPrivateKey, appPort: h.appPort,
                })),
            sshKeyId: sshKey.id,
            firewallId: firewall.id.apply((id) => Number(id)),
            // A subscriber's machine: deleted only once released (fleet/deprovision.ts).
        }, { protect: true });
        return {
            name: server.name,
            host: vps.ipv4Address,
            port: 22,
            user: cfg.sshUser,
            hostKey: vps.hostKey,
            privateKey: fleetKey.privateKey,
            keyName: "hetzner",
            env: server.env,
            provisioned: true,
        };
    });
}
