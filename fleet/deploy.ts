import * as pulumi from "../boot/sdk";
import { FleetConfig } from "../config/config";
import { FleetVps } from "../components/fleetVps";
import { HostReading, unreachableReading } from "../lifecycle/hostOps";
import { LifecycleScript, attemptIdFor, healthUrlFor, lifecycleScript } from "../lifecycle/script";
import { FleetSshProvider } from "../providers/runtime";
import { HostRecord, Ledger, RolloutSummary, stackIdOf } from "../stages/ledger";
import { HostPlan, StageInput, StagePlan, planStage } from "../stages/plan";
import { gateStage } from "./gates";
import { FleetMember, endpointOf, hostReader, settled, sshTargetOf } from "./members";
import { poolEach } from "./pool";
import { provisioningOf, reportProvisioning } from "./provisioned";
import { deprovision } from "./deprovision";
import { deliveredDigests, envTextOf, reportEnvChanges, wantedDigests } from "./subscriberEnv";
import { reportVerdict } from "./verdict";

export interface FleetOutputs {
    fleet: pulumi.Output<Record<string, HostRecord>>;
    rollout: pulumi.Output<RolloutSummary>;
    plan: StagePlan;
    /** Exported as `stackId`, so every later up names its attempts with it. */
    stackId: string;
    /** Each VPS's environment digest as delivered (a secret output; see subscriberEnv.ts). */
    envDigests: pulumi.Output<Record<string, string>>;
}

const untrackedRecord: HostRecord = {
    currentVersion: "", previousVersion: "", targetVersion: "", updateStatus: "idle", lastUpdateAt: "", error: "", attempt: 0, managed: false,
};

interface Context {
    cfg: FleetConfig;
    script: LifecycleScript;
    providers: Map<string, FleetSshProvider>;
    stackId: string;
}

function registerVps(ctx: Context, m: FleetMember, p: HostPlan, changing: boolean, reading?: HostReading): FleetVps {
    // A held VPS keeps its commit, also when its environment changes.
    const held = /^[0-9a-f]{40}$/.test(p.target) ? p.target : ctx.cfg.targetCommit;
    return new FleetVps(m.name, {
        endpoint: endpointOf(m, ctx.cfg),
        privateKey: pulumi.secret(m.privateKey),
        sshProvider: ctx.providers.get(m.keyName)!,
        commit: changing && p.mode === "update" ? ctx.cfg.targetCommit : held,
        attempt: Math.max(1, p.attempt),
        stackId: ctx.stackId,
        changing,
        reading,
        script: ctx.script,
        healthUrl: pulumi.output(m.host).apply((h) => healthUrlFor(ctx.cfg.app, h)),
        stepRunner: ctx.cfg.stepRunner,
    }, { protect: m.provisioned === true });
}

/**
 * The prepare phase of one changing VPS in `up`: read it (which installs the lifecycle
 * script) and prepare the release beside the running one, over one connection. A failed
 * prepare is recorded on the VPS: its switch then runs nothing and its record says why.
 */
async function prepareOne(ctx: Context, m: FleetMember, p: HostPlan, unreachable?: string): Promise<HostReading> {
    // A host the re-check could not reach a moment ago is not dialled (and waited for) twice.
    if (unreachable) return unreachableReading(unreachable);
    const attemptId = attemptIdFor(p.target, Math.max(1, p.attempt), ctx.stackId);
    const reading = await hostReader.read(await sshTargetOf(m, ctx.cfg), ctx.cfg.app, { commit: p.target, attemptId, envText: envTextOf(ctx.cfg, m), newVps: p.provisioning });
    const left = unfinishedRun(m.name, reading.marker, attemptId);
    if (left) pulumi.log.warn(left);
    return reading;
}

/**
 * The update marker a run leaves until its attempt is concluded: found at the next reading,
 * it means that run was killed or cut off (a killed `pulumi up`, a VPS that went away).
 * Says which run, and what this up does about it, in the operator's words.
 */
export function unfinishedRun(host: string, marker: string, attemptId: string): string | undefined {
    if (!marker) return undefined;
    let m: { since?: string; target?: string; attempt?: string };
    try {
        m = JSON.parse(marker);
    } catch {
        return `${host}: an earlier run left an unreadable update marker; this up updates the VPS as attempt ${attemptId}.`;
    }
    const what = `an earlier run (a killed pulumi up, or one cut off from the VPS) left its update to ${(m.target ?? "?").slice(0, 12)} unfinished (attempt ${m.attempt}, since ${m.since})`;
    return m.attempt === attemptId
        ? `${host}: ${what}; this up resumes that attempt: the steps it finished are not run again, then it is judged and, if its switch failed, rolled back.`
        : `${host}: ${what}; this up runs attempt ${attemptId} instead, which waits for any part of that run still going on the VPS.`;
}

/**
 * Prepares the changing VPSs prepareParallel at a time, ahead of their switches (their
 * resources: the update step, which finds the prepare steps done, and the version
 * record), which run maxParallel at a time, each after its own prepare.
 */
function updateAll(ctx: Context, changing: string[], plan: StagePlan, byName: Map<string, FleetMember>, unreachable: Record<string, string>): Promise<HostRecord>[] {
    const prepared = poolEach(changing, ctx.cfg.prepareParallel, (n) => prepareOne(ctx, byName.get(n)!, plan.hosts[n], unreachable[n]));
    return poolEach(changing.map((_, i) => i), ctx.cfg.maxParallel, async (i) =>
        settled(registerVps(ctx, byName.get(changing[i])!, plan.hosts[changing[i]], true, await prepared[i]).record));
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
 * Plans the stage (refusing before any resource exists if the rollout is halted or has
 * not baked), re-checks the hosts already on the release, registers one FleetVps per
 * managed VPS, updates the changing ones through a pool of maxParallel, and judges the stage.
 */
export async function deployFleet(cfg: FleetConfig, members: FleetMember[], ledger: Ledger): Promise<FleetOutputs> {
    const stackId = stackIdOf(ledger);
    const wanted = wantedDigests(cfg, members, stackId);
    const provisioned = members.filter((m) => m.provisioned).map((m) => m.name);
    const input: StageInput = { hostNames: members.map((m) => m.name), target: cfg.targetCommit, percent: cfg.rolloutPercent, ledger, overrideHalt: cfg.overrideHalt, envDigests: wanted, provisioned, fleetHalt: cfg.fleetHalt };
    const planned = planStage(input);
    planned.warnings.forEach((w) => pulumi.log.warn(w));
    // One plan: the gates look at the planned stage, and the plan takes what they found.
    const { gate, refused, unreachable } = await gateStage(cfg, members, ledger, planned);
    const plan = planStage({ ...input, gate });
    const ctx: Context = { cfg, script: lifecycleScript(cfg.app), providers: sshProviders(cfg, members), stackId };
    const byName = new Map(members.map((m) => [m.name, m]));
    // Held hosts change only for a new environment (envOnly), on the release they run.
    const changing = plan.order.filter((n) => plan.hosts[n].mode !== "untracked" && plan.hosts[n].fresh);
    // Not attempts of the release: a new environment, and a new VPS's way to ready.
    const releaseChanging = changing.filter((n) => !plan.hosts[n].envOnly && !plan.hosts[n].provisioning);
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
        const done = updateAll(ctx, changing, plan, byName, unreachable);
        changing.forEach((n, i) => (records[n] = pulumi.output(done[i])));
    }
    // Provisioned VPSs no longer configured: deleted once released, else refused (deprovision.ts).
    const gone = await deprovision(ledger, members, cfg.targetCommit, new Date().toISOString());
    Object.entries(gone).forEach(([n, r]) => (records[n] = pulumi.output(r)));
    const names = [...members.map((m) => m.name), ...Object.keys(gone)].sort();
    const dryRun = pulumi.runtime.isDryRun();
    const recorded = (n: string, r: HostRecord) => {
        if (gone[n]) return r;
        const rec = recordOf(r, plan.hosts[n], ledger.hosts[n], refused?.recheck?.[n], cfg.rolloutPercent);
        return provisioned.includes(n) ? { ...rec, provisioning: provisioningOf(rec, plan.hosts[n], ledger.hosts[n], changing.includes(n), dryRun) } : rec;
    };
    const fleet = pulumi.all(names.map((n) => records[n])).apply((rs) => Object.fromEntries(names.map((n, i) => [n, recorded(n, rs[i])])) as Record<string, HostRecord>);
    const rollout = refused ? pulumi.output(refused) : fleet.apply((rs) => {
        if (!dryRun) reportEnvChanges(plan, changing, rs);
        if (!dryRun) reportProvisioning(plan, changing, rs);
        return reportVerdict(cfg, plan, releaseChanging, rs, ledger);
    });
    const envDigests = pulumi.secret(fleet.apply((rs) => deliveredDigests(wanted, ledger, pulumi.runtime.isDryRun() ? [] : changing, rs)));
    return { fleet, rollout, plan, stackId, envDigests };
}

/**
 * A host's record as the `fleet` output shows it: as its version resource has it, except
 * that a failure the program learned outside that resource sticks: the re-check refusing
 * an advance marks the host failed, and while the host is held (not updated since) it stays
 * failed, so the next up of its stage retries it.
 */
function recordOf(r: HostRecord, p: HostPlan, previous: HostRecord | undefined, recheck: string | undefined, percent: number): HostRecord {
    if (recheck) {
        return { ...r, updateStatus: "failed", error: `re-check before ${percent}%: ${recheck}` };
    }
    const stillKnownFailed = p.mode === "hold" && previous?.updateStatus === "failed" && r.updateStatus === "success" &&
        previous.targetVersion === r.targetVersion && previous.attempt === r.attempt;
    return stillKnownFailed ? { ...r, updateStatus: "failed", error: previous.error } : r;
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
