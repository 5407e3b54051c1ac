import * as pulumi from "@pulumi/pulumi";
import { FleetConfig } from "../config/config";
import { FleetVps } from "../components/fleetVps";
import { RolloutGate } from "../components/rolloutGate";
import { HostRecord, Ledger, RolloutSummary } from "../stages/ledger";
import { StagePlan, planStage } from "../stages/plan";
import { carryHalt, describeVerdict, judgeStage } from "../stages/verdict";

/** A VPS the fleet can reach: from the static inventory, or provisioned by this stack. */
export interface FleetMember {
    name: string;
    host: pulumi.Input<string>;
    port: number;
    user: string;
    hostKey: pulumi.Input<string>;
    privateKey: pulumi.Input<string>;
}

export interface FleetOutputs {
    fleet: pulumi.Output<Record<string, HostRecord>>;
    rollout: pulumi.Output<RolloutSummary>;
    plan: StagePlan;
}

/** How long after the verdict is known the gate registers (see deployFleet). */
const GATE_DELAY_MS = 2000;

const untrackedRecord: HostRecord = {
    currentVersion: "",
    previousVersion: "",
    targetVersion: "",
    updateStatus: "idle",
    lastUpdateAt: "",
    error: "",
    attempt: 0,
    managed: false,
};

/**
 * Plans the stage (refusing before any resource exists if the rollout is halted),
 * registers one FleetVps per managed VPS with concurrency lanes, and judges the stage.
 */
export function deployFleet(cfg: FleetConfig, members: FleetMember[], ledger: Ledger): FleetOutputs {
    const plan = planStage({
        hostNames: members.map((m) => m.name),
        target: cfg.targetCommit,
        percent: cfg.rolloutPercent,
        maxParallel: cfg.maxParallel,
        ledger,
        overrideHalt: cfg.overrideHalt,
    });
    plan.warnings.forEach((w) => pulumi.log.warn(w));
    const byName = new Map(members.map((m) => [m.name, m]));
    const vps = new Map<string, FleetVps>();
    // In rollout order, so a lane's predecessor always exists already.
    for (const name of plan.order) {
        const p = plan.hosts[name];
        if (p.mode === "untracked") {
            continue;
        }
        const m = byName.get(name)!;
        vps.set(name, new FleetVps(name, {
            host: m.host,
            port: m.port,
            user: m.user,
            hostKey: m.hostKey,
            privateKey: m.privateKey,
            app: cfg.app,
            targetCommit: cfg.targetCommit,
            plan: p,
            after: p.after ? vps.get(p.after) : undefined,
            stepRunner: cfg.stepRunner,
        }));
    }

    const names = members.map((m) => m.name).sort();
    const fleet = pulumi
        .all(names.map((n) => vps.get(n)?.record ?? pulumi.output(untrackedRecord)))
        .apply((records) => Object.fromEntries(names.map((n, i) => [n, records[i]])) as Record<string, HostRecord>);
    const freshNames = names.filter((n) => plan.hosts[n].fresh);
    const rollout = fleet.apply((records) => {
        const attempted = Object.fromEntries(freshNames.map((n) => [n, records[n]]));
        const summary = carryHalt(judgeStage(cfg.targetCommit, cfg.rolloutPercent, plan.cohort.length, attempted, cfg.failureThreshold), ledger.rollout);
        for (const n of summary.failedHosts) {
            pulumi.log.warn(`${n}: ${records[n].updateStatus}: ${records[n].error}`);
        }
        if (summary.attempted > 0) {
            (summary.halted ? pulumi.log.error : pulumi.log.info)(describeVerdict(summary));
        }
        return summary;
    });
    // The gate must fail only after the stack's outputs (the ledger, with `halted`) are
    // saved: the engine drops a failed run's stack outputs when they arrive after the
    // failure, and then the next stage would not know it is halted. The outputs are sent
    // as soon as `rollout` resolves; the gate registers a moment later. (Registered in an
    // apply, it does not appear in preview, where the verdict is unknown anyway.)
    rollout.apply(async (summary) => {
        await new Promise((resolve) => setTimeout(resolve, GATE_DELAY_MS));
        new RolloutGate("rollout-gate", summary);
    });
    return { fleet, rollout, plan };
}
