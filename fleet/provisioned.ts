import * as pulumi from "../boot/sdk";
import { HostRecord, Provisioning } from "../stages/ledger";
import { HostPlan, StagePlan } from "../stages/plan";

/**
 * The phase a VPS this stack provisions is in, from what this run did to it. Its first
 * update is its way to ready: cloud-init must have finished (the prepare waits for it and
 * fails with its log when it failed), then the environment goes in, the service restarts
 * and is verified. Preview changes nothing: a server it would create is "creating".
 */
export function provisioningOf(r: HostRecord, p: HostPlan, previous: HostRecord | undefined, updated: boolean, dryRun: boolean): Provisioning {
    const before = previous?.provisioning ?? (previous?.managed ? { phase: "ready" as const } : { phase: "creating" as const });
    if (dryRun || !updated || !p.provisioning) {
        return before;
    }
    if (r.updateStatus === "success") {
        return { phase: "ready", provisionedAt: before.provisionedAt ?? r.lastUpdateAt };
    }
    return { phase: "failed", failedIn: failedIn(r.error) };
}

/** Which phase an error of the first update belongs to. */
function failedIn(error: string): Provisioning["failedIn"] {
    if (/cloud-init/.test(error)) return "cloud-init";
    if (/unreachable|no SSH connection|could not be reached|not accepted|host key/.test(error)) return "creating";
    return "secrets";
}

/** Tells the operator, once per VPS, how its provisioning went in this up. */
export function reportProvisioning(plan: StagePlan, changing: string[], records: Record<string, HostRecord>): void {
    for (const n of changing.filter((h) => plan.hosts[h].provisioning)) {
        const r = records[n];
        const p = r.provisioning;
        if (p?.phase === "ready") {
            pulumi.log.info(`${n}: provisioned and ready: release ${r.currentVersion.slice(0, 12)}, its environment in place, verified`);
        } else {
            pulumi.log.warn(`${n}: provisioning failed in ${p?.failedIn ?? "?"}: ${r.error}`);
        }
    }
}
