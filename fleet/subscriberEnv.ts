import * as pulumi from "../boot/sdk";
import { FleetConfig } from "../config/config";
import { EnvVars, envDigest, envFileText, mergedEnv } from "../config/env";
import { HostRecord, Ledger } from "../stages/ledger";
import { StagePlan } from "../stages/plan";
import { FleetMember } from "./members";

/**
 * Each VPS's environment (the subscriber's secrets): what the program delivers in a
 * host's prepare, and how it knows which hosts' environment changed without keeping a
 * value anywhere (a digest, itself kept only as a secret output).
 */
export function envOf(cfg: FleetConfig, m: FleetMember): EnvVars {
    return mergedEnv(cfg.env, m.env);
}

/** The environment file a host's prepare delivers on stdin. */
export function envTextOf(cfg: FleetConfig, m: FleetMember): string {
    return envFileText(envOf(cfg, m));
}

/** Each VPS's environment digest as configured now. */
export function wantedDigests(cfg: FleetConfig, members: FleetMember[], stackId: string): Record<string, string> {
    return Object.fromEntries(members.map((m) => [m.name, envDigest(envOf(cfg, m), stackId, m.name)]));
}

/**
 * The digests to keep (the secret `envDigests` output): a host updated successfully in this
 * up has its configured environment; any other keeps the one it had, so a failed or
 * rolled-back change is tried again by the next up.
 */
export function deliveredDigests(wanted: Record<string, string>, ledger: Ledger, changing: string[], records: Record<string, HostRecord>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const n of Object.keys(wanted)) {
        const ok = changing.includes(n) && records[n]?.updateStatus === "success";
        const kept = ok ? wanted[n] : ledger.envDigests?.[n];
        if (kept) out[n] = kept;
    }
    return out;
}

/** Tells the operator how each environment-only change went (once per host). */
export function reportEnvChanges(plan: StagePlan, changing: string[], records: Record<string, HostRecord>): void {
    for (const n of changing.filter((h) => plan.hosts[h].envOnly)) {
        const r = records[n];
        if (r.updateStatus === "success") {
            pulumi.log.info(`${n}: its new environment is in place (restarted and verified on ${r.currentVersion.slice(0, 12)})`);
        } else {
            pulumi.log.warn(`${n}: its new environment was not taken (${r.updateStatus}): ${r.error}`);
        }
    }
}
