// npm run fleet -- plan's decision for one shard, from its record alone: the cohort of a
// shard that never ran, only the hosts not yet on the release when it advances, the bake
// and the fleet's halt refusing with the program's own sentences.
import * as assert from "assert";
import { planShard } from "../../operator/fleetPlan";
import { cohortFor } from "../../stages/cohort";
import { HostRecord, Ledger, ledgerFromOutputs } from "../../stages/ledger";

const OLD = "a".repeat(40);
const NEW = "b".repeat(40);
const NAMES = Array.from({ length: 20 }, (_, i) => `vps-${String(i).padStart(2, "0")}`);
const rules = { overrideHalt: false, bakeSeconds: 0 };
const NOW = Date.parse("2026-11-30T12:00:00Z");

function record(version: string, at = "2026-11-30T11:00:00Z"): HostRecord {
    return { currentVersion: version, previousVersion: OLD, targetVersion: version, updateStatus: "success", lastUpdateAt: at, error: "", attempt: 1, managed: true };
}

/** Every host on OLD, the 10% cohort of NEW on NEW (its stage recorded as done at `at`). */
function afterTenPercent(at = "2026-11-30T11:00:00Z"): Ledger {
    const cohort = cohortFor(10, NAMES, NEW);
    const fleet = Object.fromEntries(NAMES.map((n) => [n, record(cohort.includes(n) ? NEW : OLD, at)]));
    const rollout = { release: NEW, percent: 10, cohortSize: cohort.length, attempted: cohort.length, succeeded: cohort.length, rolledBack: 0, failed: 0, failedHosts: [], failureRate: 0, threshold: 0.3, halted: false };
    return ledgerFromOutputs(fleet, rollout);
}

describe("npm run fleet -- plan: one shard's stage from its record", () => {
    it("a shard that never ran: its configured members' cohort", () => {
        const p = planShard("prod-s00", ledgerFromOutputs(undefined, undefined), NAMES, { targetCommit: NEW, rolloutPercent: 10 }, rules, NOW);
        assert.deepStrictEqual(p, { name: "prod-s00", hosts: cohortFor(10, NAMES, NEW) });
    });

    it("an advance lists only the cohort's hosts not on the release yet; without configured members, the record's hosts", () => {
        const ledger = afterTenPercent();
        const expected = cohortFor(50, NAMES, NEW).filter((n) => !cohortFor(10, NAMES, NEW).includes(n));
        assert.deepStrictEqual(planShard("s", ledger, NAMES, { targetCommit: NEW, rolloutPercent: 50 }, rules, NOW).hosts, expected);
        assert.deepStrictEqual(planShard("s", ledger, undefined, { targetCommit: NEW, rolloutPercent: 50 }, rules, NOW).hosts, expected);
        assert.deepStrictEqual(planShard("s", ledger, NAMES, { targetCommit: NEW, rolloutPercent: 10 }, rules, NOW).hosts, [], "a repeated stage changes nothing");
    });

    it("refuses an advance before the bake is over, and a release the fleet halted, with the program's sentences", () => {
        const baking = planShard("s", afterTenPercent("2026-11-30T11:59:00Z"), NAMES, { targetCommit: NEW, rolloutPercent: 50 }, { ...rules, bakeSeconds: 300 }, NOW);
        assert.deepStrictEqual(baking.hosts, []);
        assert.match(baking.refused ?? "", /has baked for 1m00s .* asks for 5m00s before 50% may start\. Refusing to advance; no host was touched\. Run pulumi up again in 4m00s/);
        const fleetHalt = { release: NEW, percent: 10, reason: "release bbbbbbbbbbbb at 10% across 4 shards: 0/2 hosts succeeded" };
        const halted = planShard("s", afterTenPercent(), NAMES, { targetCommit: NEW, rolloutPercent: 50 }, { ...rules, fleetHalt }, NOW);
        assert.match(halted.refused ?? "", /the rollout of bbbbbbbbbbbb is halted across the fleet: release bbbbbbbbbbbb at 10% across 4 shards: 0\/2 hosts succeeded Refusing to advance to 50%; no host was touched\./);
        const overridden = planShard("s", afterTenPercent(), NAMES, { targetCommit: NEW, rolloutPercent: 50 }, { ...rules, overrideHalt: true, fleetHalt }, NOW);
        assert.strictEqual(overridden.refused, undefined);
        assert.ok(overridden.hosts.length > 0);
    });

    it("a VPS the fleet provisions that is not ready yet is updated on its way to ready, in or out of the cohort", () => {
        const ledger = afterTenPercent();
        const outside = NAMES.find((n) => !cohortFor(50, NAMES, NEW).includes(n))!;
        // A new VPS whose name falls outside the 50% cohort: only its way to ready puts it in the plan.
        const fresh = Array.from({ length: 20 }, (_, i) => `vps-new-${i}`).find((n) => !cohortFor(50, [...NAMES, n], NEW).includes(n))!;
        const names = [...NAMES, fresh];
        const p = planShard("s", ledger, names, { targetCommit: NEW, rolloutPercent: 50 }, { ...rules, provisioned: [fresh, outside] }, NOW);
        assert.ok(p.hosts.includes(fresh), `${fresh} (provisioned, no record yet) is not in the plan: ${p.hosts.join(", ")}`);
        assert.ok(!p.hosts.includes(outside), `${outside} (provisioned and ready) is updated outside its cohort`);
        assert.ok(!planShard("s", ledger, names, { targetCommit: NEW, rolloutPercent: 50 }, rules, NOW).hosts.includes(fresh), "a static host outside the cohort is in the plan");
    });
});
