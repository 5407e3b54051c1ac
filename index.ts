import * as pulumi from "./boot/sdk";
import { ConfigError, FleetConfig } from "./config/config";
import { loadFleetConfig } from "./config/loadConfig";
import { deployFleet } from "./fleet/deploy";
import { FleetMember } from "./fleet/members";
import { readLedger } from "./fleet/ledgerSource";
import { RolloutRefused } from "./stages/plan";

/**
 * rachel-fleet: rolls `targetCommit` out to `rolloutPercent` of the fleet.
 * Config is validated first and the previous stage's outcome is read back, both
 * before any resource that touches a VPS is registered.
 */
export = async () => {
    try {
        return await rollOut();
    } catch (e) {
        // The operator's mistakes and a halted rollout are messages, not crashes: a
        // RunError is shown without a stack trace.
        if (e instanceof ConfigError || e instanceof RolloutRefused) {
            throw operatorError(e.message);
        }
        throw e;
    }
};

/**
 * A RunError whose stack is its message. The SDK formats the stack of whatever a program
 * throws (for its trace), even a RunError's that it then hides; under ts-node's source
 * maps that formatting blocked the program for ~20 s, so a config mistake took 25 s to
 * be reported where a clean preview takes 5 s.
 */
function operatorError(message: string): pulumi.RunError {
    const err = new pulumi.RunError(message);
    err.stack = message;
    return err;
}

function staticMembers(cfg: FleetConfig): FleetMember[] {
    return cfg.hosts.map((h) => ({
        name: h.name,
        host: h.host,
        port: h.port,
        user: h.user,
        hostKey: h.hostKey,
        privateKey: h.privateKey ?? cfg.sshPrivateKey!,
        keyName: h.privateKey ? `host-${h.name}` : "fleet",
        env: h.env,
    }));
}

/**
 * The Hetzner provisioning, loaded only by a fleet that has Hetzner servers: @pulumi/hcloud
 * and @pulumi/random load the SDK's whole index (see boot/sdk.ts).
 */
function hetzner(): typeof import("./provisioning/hetznerFleet") {
    return require("./provisioning/hetznerFleet");
}

async function rollOut() {
    const cfg = loadFleetConfig();
    const names = [...cfg.hosts, ...(cfg.hetzner?.servers ?? [])].map((m) => m.name);
    const ledger = await readLedger(cfg.splitFrom ? { from: cfg.splitFrom, members: names } : undefined);
    const members = [...staticMembers(cfg), ...(cfg.hetzner ? hetzner().provisionHetzner(cfg) : [])];
    const { fleet, rollout, plan, stackId, envDigests } = await deployFleet(cfg, members, ledger);
    return {
        fleet,
        rollout,
        stackId,
        envDigests,
        cohort: plan.cohort,
        changing: plan.cohort.filter((n) => plan.hosts[n].fresh),
    };
}
