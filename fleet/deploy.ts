import * as pulumi from "@pulumi/pulumi";
import { FleetConfig } from "../config/config";
import { FleetVps } from "../components/fleetVps";
import { HostReading, readHost } from "../lifecycle/hostOps";
import { LifecycleScript, healthUrlFor, lifecycleScript } from "../lifecycle/script";
import { Endpoint } from "../lifecycle/ssh";
import { FleetSshProvider } from "../providers/runtime";
import { HostRecord, Ledger, RolloutSummary } from "../stages/ledger";
import { HostPlan, StagePlan, planStage } from "../stages/plan";
import { poolEach } from "./pool";
import { reportVerdict } from "./verdict";

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
}

export interface FleetOutputs {
    fleet: pulumi.Output<Record<string, HostRecord>>;
    rollout: pulumi.Output<RolloutSummary>;
    plan: StagePlan;
}

const untrackedRecord: HostRecord = {
    currentVersion: "", previousVersion: "", targetVersion: "", updateStatus: "idle", lastUpdateAt: "", error: "", attempt: 0, managed: false,
};

/**
 * How the program reads a VPS just before updating it. A seam for the mocked-engine unit
 * tests, which must not open SSH connections; everything else uses readHost.
 */
export const hostReader = { read: readHost };

/** Resolves an output's value (rejecting when the resource behind it failed). */
const settled = <T>(o: pulumi.Output<T>): Promise<T> => (o as unknown as { promise(): Promise<T> }).promise();

interface Context {
    cfg: FleetConfig;
    script: LifecycleScript;
    providers: Map<string, FleetSshProvider>;
}

function endpointOf(m: FleetMember, cfg: FleetConfig): pulumi.Output<Endpoint> {
    return pulumi.all([m.host, m.hostKey]).apply(([host, hostKey]) => ({ host, port: m.port, user: m.user, hostKey, connectTimeout: cfg.app.connectTimeout }));
}

function registerVps(ctx: Context, m: FleetMember, p: HostPlan, changing: boolean, reading?: HostReading): FleetVps {
    const held = /^[0-9a-f]{40}$/.test(p.target) ? p.target : ctx.cfg.targetCommit;
    return new FleetVps(m.name, {
        endpoint: endpointOf(m, ctx.cfg),
        privateKey: pulumi.secret(m.privateKey),
        sshProvider: ctx.providers.get(m.keyName)!,
        commit: changing ? ctx.cfg.targetCommit : held,
        attempt: Math.max(1, p.attempt),
        changing,
        reading,
        script: ctx.script,
        healthUrl: pulumi.output(m.host).apply((h) => healthUrlFor(ctx.cfg.app, h)),
        stepRunner: ctx.cfg.stepRunner,
    });
}

/**
 * One changing VPS in `up`: read it (which installs the lifecycle script) just before its
 * resources are registered, then wait for its version record. The pool around this keeps
 * at most maxParallel VPSs between their reading and their record.
 */
async function updateOne(ctx: Context, m: FleetMember, p: HostPlan): Promise<HostRecord> {
    const [endpoint, key] = await Promise.all([settled(endpointOf(m, ctx.cfg)), settled(pulumi.output(m.privateKey))]);
    const reading = await hostReader.read({ ...endpoint, privateKey: key }, ctx.cfg.app);
    return settled(registerVps(ctx, m, p, true, reading).record);
}

function sshProviders(cfg: FleetConfig, members: FleetMember[]): Map<string, FleetSshProvider> {
    const out = new Map<string, FleetSshProvider>();
    for (const m of members) {
        if (!out.has(m.keyName)) {
            out.set(m.keyName, new FleetSshProvider(`ssh-${m.keyName}`, m.privateKey, cfg.app));
        }
    }
    return out;
}

/**
 * Plans the stage (refusing before any resource exists if the rollout is halted),
 * registers one FleetVps per managed VPS, updates the changing ones through a pool of
 * maxParallel, and judges the stage.
 */
export function deployFleet(cfg: FleetConfig, members: FleetMember[], ledger: Ledger): FleetOutputs {
    const plan = planStage({ hostNames: members.map((m) => m.name), target: cfg.targetCommit, percent: cfg.rolloutPercent, ledger, overrideHalt: cfg.overrideHalt });
    plan.warnings.forEach((w) => pulumi.log.warn(w));
    const ctx: Context = { cfg, script: lifecycleScript(cfg.app), providers: sshProviders(cfg, members) };
    const byName = new Map(members.map((m) => [m.name, m]));
    const changing = plan.order.filter((n) => plan.hosts[n].mode === "update" && plan.hosts[n].fresh);
    const records: Record<string, pulumi.Output<HostRecord>> = {};
    for (const n of plan.order) {
        const p = plan.hosts[n];
        if (p.mode === "untracked") {
            records[n] = pulumi.output(untrackedRecord);
        } else if (!changing.includes(n)) {
            records[n] = registerVps(ctx, byName.get(n)!, p, false).record;
        }
    }
    if (pulumi.runtime.isDryRun()) {
        // Preview touches no VPS: every changing VPS is shown as it will be updated.
        changing.forEach((n) => (records[n] = registerVps(ctx, byName.get(n)!, plan.hosts[n], true).record));
    } else {
        warnIfEngineNarrower(cfg.maxParallel, changing.length);
        const done = poolEach(changing, cfg.maxParallel, (n) => updateOne(ctx, byName.get(n)!, plan.hosts[n]));
        changing.forEach((n, i) => (records[n] = pulumi.output(done[i])));
    }
    const names = members.map((m) => m.name).sort();
    const fleet = pulumi.all(names.map((n) => records[n])).apply((rs) => Object.fromEntries(names.map((n, i) => [n, rs[i]])) as Record<string, HostRecord>);
    const rollout = fleet.apply((rs) => reportVerdict(cfg, plan, changing, rs, ledger));
    return { fleet, rollout, plan };
}

/**
 * Each updating VPS has one resource operation in flight at a time, so the engine's
 * --parallel (4 × cores by default) caps how many update at once.
 */
function warnIfEngineNarrower(maxParallel: number, changingHosts: number): void {
    const engine = Number(process.env.PULUMI_NODEJS_PARALLEL);
    const wanted = Math.min(maxParallel, changingHosts);
    if (Number.isInteger(engine) && engine > 0 && engine < wanted) {
        pulumi.log.warn(
            `maxParallel is ${maxParallel}, but this pulumi up runs at most ${engine} resource operations at once, so at most ${engine} hosts ` +
                `update at once. Run pulumi up --parallel ${wanted} (or set PULUMI_PARALLEL=${wanted}) for ${wanted} at once.`,
        );
    }
}
