import { deployFleet, FleetMember } from "./components/fleet";
import { loadFleetConfig } from "./components/loadConfig";
import { readLedger } from "./components/ledgerSource";
import { provisionHetzner } from "./components/hetznerFleet";

/**
 * rachel-fleet: rolls `targetCommit` out to `rolloutPercent` of the fleet.
 * Config is validated first and the previous stage's outcome is read back, both
 * before any resource that touches a VPS is registered.
 */
export = async () => {
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
    return {
        fleet,
        rollout,
        cohort: plan.cohort,
        changing: plan.cohort.filter((n) => plan.hosts[n].fresh),
    };
};
