import * as pulumi from "../boot/sdk";
import { FleetConfig } from "../config/config";
import { healthUrlFor } from "../lifecycle/script";
import { cohortFor } from "../stages/cohort";
import {
    PromotionInput, RecheckFinding, assertBaked, isPromotion, judgePromotion, judgeRecheck, recheckTargets, refusedSummary,
} from "../stages/gate";
import { Ledger, RolloutSummary } from "../stages/ledger";
import { GateFindings, StagePlan, waysForward } from "../stages/plan";
import { EXIT_ALREADY_REPORTED } from "./verdict";
import { FleetMember, hostReader, settled, sshTargetOf } from "./members";
import { mapLimit } from "./pool";

/**
 * Re-check readings are one short SSH exec each and change nothing, so more of them run
 * at once than updates do (maxParallel); the bound keeps a 1000-host re-check from
 * opening 1000 connections at once.
 */
const RECHECK_PARALLEL = 16;

export interface GatedStage {
    /** What the plan must take from the gates (stages/plan.ts planStage's `gate`). */
    gate: GateFindings;
    /** When the re-check refused the advance: the rollout output to record (halted, with what it found). */
    refused?: RolloutSummary;
    /** Hosts the re-check could not reach, with why: updated again without a second reading. */
    unreachable: Record<string, string>;
}

async function recheckAll(cfg: FleetConfig, names: string[], members: Map<string, FleetMember>): Promise<Record<string, RecheckFinding>> {
    const findings = await mapLimit(names, RECHECK_PARALLEL, async (n) => {
        const m = members.get(n)!;
        const healthUrl = healthUrlFor(cfg.app, await settled(pulumi.output(m.host)));
        const reading = await hostReader.recheck(await sshTargetOf(m, cfg), cfg.app, healthUrl);
        return judgeRecheck(reading, cfg.targetCommit, cfg.app.service);
    });
    return Object.fromEntries(names.map((n, i) => [n, findings[i]]));
}

/**
 * The promotion gates (stages/gate.ts) around a planned stage: the bake (refused with a
 * RolloutRefused before any host is read), then the re-check of the cohort's hosts the
 * ledger has on the release. What they find goes into the plan (planStage's `gate`): a
 * refused advance holds every host and is reported once as an error that fails preview
 * and up; otherwise hosts found otherwise are updated again.
 */
export async function gateStage(cfg: FleetConfig, members: FleetMember[], ledger: Ledger, plan: StagePlan): Promise<GatedStage> {
    const release = cfg.targetCommit;
    assertBaked({ ledger, release, percent: cfg.rolloutPercent, bakeSeconds: cfg.bakeSeconds, now: Date.now() });
    const byName = new Map(members.map((m) => [m.name, m]));
    const findings = await recheckAll(cfg, recheckTargets(plan), byName);
    const unreachable = Object.fromEntries(Object.entries(findings).filter(([, f]) => f.kind === "unreadable").map(([n, f]) => [n, (f as { why: string }).why]));
    const last = ledger.rollout;
    if (last && isPromotion(ledger, release, cfg.rolloutPercent)) {
        const input: PromotionInput = {
            release, percent: cfg.rolloutPercent, last, ledger, findings, threshold: cfg.failureThreshold,
            previousCohort: cohortFor(last.percent, members.map((m) => m.name), release),
        };
        const decision = judgePromotion(input);
        if (decision.refused && !cfg.overrideHalt) {
            pulumi.log.error(`${decision.message} ${waysForward(last.percent)}`);
            process.exitCode = EXIT_ALREADY_REPORTED;
            return { gate: { refusedAt: { percent: last.percent, cohort: input.previousCohort } }, refused: refusedSummary(input, decision), unreachable: {} };
        }
        const override = decision.refused ? " Advancing anyway because rachel-fleet:overrideHalt is true." : "";
        (Object.keys(unreachable).length || decision.refused ? pulumi.log.warn : pulumi.log.info)(decision.message + override);
        return { gate: { redo: whyOf(findings) }, unreachable };
    }
    // Outside a promotion only what was seen is acted on: a host found otherwise (drift) is
    // updated again; one that could not be read is left as the ledger has it, said once.
    const regressed = Object.fromEntries(Object.entries(findings).filter(([, f]) => f.kind === "regressed"));
    for (const [n, f] of Object.entries(regressed)) {
        pulumi.log.warn(`${n}: the ledger has it on ${release.slice(0, 12)}, but it ${(f as { why: string }).why}; updating it again in this stage.`);
    }
    const unread = Object.keys(unreachable);
    if (unread.length) {
        const named = unread.slice(0, 10).map((n) => `${n} (${unreachable[n].replace(/^could not be read: /, "")})`).join(", ");
        pulumi.log.warn(`${unread.length} host(s) the ledger has on ${release.slice(0, 12)} could not be re-checked and are left as they are: ${named}${unread.length > 10 ? ", …" : ""}.`);
    }
    return { gate: { redo: whyOf(regressed) }, unreachable: {} };
}

/** Hosts found otherwise, and why: updated again in this stage, as a new attempt. */
function whyOf(findings: Record<string, RecheckFinding>): Record<string, string> {
    return Object.fromEntries(Object.entries(findings).filter(([, f]) => f.kind !== "ok").map(([n, f]) => [n, (f as { why: string }).why]));
}
