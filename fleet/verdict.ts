import * as pulumi from "../boot/sdk";
import { FleetConfig } from "../config/config";
import { HostRecord, Ledger, RolloutSummary } from "../stages/ledger";
import { StagePlan } from "../stages/plan";
import { carryHalt, describeVerdict, judgeStage } from "../stages/verdict";

/**
 * The Node.js SDK's exit code for "the program failed and has already told the operator
 * why": the language host then adds no message of its own, and the engine fails the
 * update. The code is read when the program exits, which the SDK delays until every
 * registration, the stack outputs included, has been answered by the engine; so the
 * ledger with `halted` is always saved before `up` fails, with no timer and no race.
 */
export const EXIT_ALREADY_REPORTED = 32;

/**
 * Fault injection for the test that proves the above: delays the verdict (and with it the
 * stack outputs) by this many milliseconds.
 */
const VERDICT_DELAY_ENV = "RACHEL_FLEET_TEST_VERDICT_DELAY_MS";

/**
 * Judges the stage from the records of the hosts it updated, tells the operator (each
 * failed host once as a warning; the verdict once), and fails `up` when the stage halts.
 */
export async function reportVerdict(cfg: FleetConfig, plan: StagePlan, changing: string[], records: Record<string, HostRecord>, ledger: Ledger): Promise<RolloutSummary> {
    const attempted = Object.fromEntries(changing.map((n) => [n, records[n]]));
    const judged = judgeStage(cfg.targetCommit, cfg.rolloutPercent, plan.cohort.length, attempted, cfg.failureThreshold);
    const redone = changing.filter((n) => plan.hosts[n].redo).map((n) => [n, plan.hosts[n].redo!]);
    const summary = carryHalt(redone.length ? { ...judged, recheck: Object.fromEntries(redone) } : judged, ledger.rollout);
    const delay = Number(process.env[VERDICT_DELAY_ENV] ?? 0);
    if (delay > 0) {
        await new Promise((r) => setTimeout(r, delay));
    }
    if (summary.attempted === 0) {
        return summary;
    }
    for (const n of summary.failedHosts) {
        pulumi.log.warn(`${n}: ${records[n].updateStatus}: ${records[n].error}`);
    }
    if (summary.halted) {
        pulumi.log.error(describeVerdict(summary));
        if (!pulumi.runtime.isDryRun()) {
            process.exitCode = EXIT_ALREADY_REPORTED;
        }
    } else {
        pulumi.log.info(describeVerdict(summary));
    }
    return summary;
}
