import * as pulumi from "../boot/sdk";
import { FleetConfig } from "../config/config";
import { EnvVars } from "../config/env";
import { readHost } from "../lifecycle/hostOps";
import { recheckHost } from "../lifecycle/recheck";
import { Endpoint, SshTarget } from "../lifecycle/ssh";

/** A VPS the fleet can reach: from the static inventory, or provisioned by this stack. */
export interface FleetMember {
    name: string;
    host: pulumi.Input<string>;
    port: number;
    user: string;
    hostKey: pulumi.Input<string>;
    privateKey: pulumi.Input<string>;
    /** Names the key (`fleet`, a host's own, `hetzner`): members with one key share one provider. */
    keyName: string;
    /** The subscriber's own environment (over the fleet-wide `env`). */
    env?: EnvVars;
    /** Provisioned by this stack (Hetzner): brought to ready by its first up, whatever the stage. */
    provisioned?: boolean;
}

/**
 * How the program reads a VPS: just before updating it, and for the promotion re-check.
 * A seam for the mocked-engine unit tests, which must not open SSH connections.
 */
export const hostReader = { read: readHost, recheck: recheckHost };

/** Resolves an output's value (rejecting when the resource behind it failed). */
export const settled = <T>(o: pulumi.Output<T>): Promise<T> => (o as unknown as { promise(): Promise<T> }).promise();

export function endpointOf(m: FleetMember, cfg: FleetConfig): pulumi.Output<Endpoint> {
    return pulumi.all([m.host, m.hostKey]).apply(([host, hostKey]) => ({ host, port: m.port, user: m.user, hostKey, connectTimeout: cfg.app.connectTimeout }));
}

/** The member's pinned SSH endpoint with its key, for the program's own connections. */
export async function sshTargetOf(m: FleetMember, cfg: FleetConfig): Promise<SshTarget> {
    const [endpoint, privateKey] = await Promise.all([settled(endpointOf(m, cfg)), settled(pulumi.output(m.privateKey))]);
    return { ...endpoint, privateKey };
}
