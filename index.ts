import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./config/config";
import { deployFleet, FleetMember } from "./fleet/deploy";
import { loadFleetConfig } from "./config/loadConfig";
import { readLedger } from "./fleet/ledgerSource";
import { provisionHetzner } from "./provisioning/hetznerFleet";
import { RolloutRefused } from "./stages/plan";
import { STEP_NAMES } from "./lifecycle/commands";

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
            throw new pulumi.RunError(e.message);
        }
        throw e;
    }
};

async function rollOut() {
    const cfg = loadFleetConfig();
    const ledger = await readLedger();
    const members: FleetMember[] = [
        ...cfg.hosts.map((h) => ({
            name: h.name,
            host: h.host,
            port: h.port,
            user: h.user,
            hostKey: h.hostKey,
            privateKey: h.privateKey ?? cfg.sshPrivateKey!,
        })),
        ...(cfg.hetzner ? provisionHetzner(cfg) : []),
    ];
    const { fleet, rollout, plan } = deployFleet(cfg, members, ledger);
    const changing = plan.cohort.filter((n) => plan.hosts[n].fresh);
    adviseOnCheckpoints(changing.length);
    return {
        fleet,
        rollout,
        cohort: plan.cohort,
        changing,
    };
}

/** From this many changing hosts on, per-step checkpoint writes dominate a stage (see README, Performance). */
const CHECKPOINT_ADVICE_HOSTS = 20;
/** A VPS's children that change in a stage: its probe, one resource per step, its version record. */
const RESOURCES_PER_VPS = STEP_NAMES.length + 2;

function adviseOnCheckpoints(changingHosts: number): void {
    if (changingHosts >= CHECKPOINT_ADVICE_HOSTS && !/^(1|true)$/i.test(process.env.PULUMI_SKIP_CHECKPOINTS ?? "")) {
        pulumi.log.warn(
            `${changingHosts} hosts change in this stage: with a self-managed (file or bucket) backend the engine rewrites the whole ` +
                `state after each of their ~${changingHosts * RESOURCES_PER_VPS} resource steps, which dominates the stage time. ` +
                `Consider PULUMI_SKIP_CHECKPOINTS=true pulumi up (state is written once at the end; a killed up converges on the next up). See README, Performance.`,
        );
    }
}
