import * as assert from "assert";
import { HostRecord, Ledger, RolloutSummary, ledgerFromOutputs } from "../../stages/ledger";

const emptyLedger: Ledger = { hosts: {} };
import { RolloutRefused, planStage } from "../../stages/plan";
import { carryHalt, judgeStage } from "../../stages/verdict";

const A = "a".repeat(40);
const B = "b".repeat(40);
const names = Array.from({ length: 20 }, (_, i) => `vps-${i}`);
const rec = (over: Partial<HostRecord>): HostRecord => ({
    currentVersion: A, previousVersion: B, targetVersion: A, updateStatus: "success",
    lastUpdateAt: "t", error: "", attempt: 1, managed: true, ...over,
});
const halted: RolloutSummary = {
    release: A, percent: 10, cohortSize: 2, attempted: 2, succeeded: 1, rolledBack: 1, failed: 1,
    failedHosts: ["vps-3"], failureRate: 0.5, threshold: 0.3, halted: true,
};
const base = { hostNames: names, target: A, overrideHalt: false };

describe("stage plan", () => {
    it("updates exactly the cohort and leaves never-managed hosts untracked", () => {
        const p = planStage({ ...base, percent: 10, ledger: emptyLedger });
        const modes = Object.values(p.hosts).map((h) => h.mode);
        assert.strictEqual(modes.filter((m) => m === "update").length, 2);
        assert.strictEqual(modes.filter((m) => m === "untracked").length, 18);
        assert.deepStrictEqual(p.cohort, p.order.slice(0, 2));
    });

    it("holds managed hosts outside the cohort, also when they are on an older release", () => {
        const ledger: Ledger = { hosts: Object.fromEntries(names.map((n) => [n, rec({ targetVersion: B, currentVersion: B })])) };
        const p = planStage({ ...base, percent: 10, ledger });
        for (const n of names) {
            assert.strictEqual(p.hosts[n].mode, p.cohort.includes(n) ? "update" : "hold", n);
        }
    });

    it("never re-runs a host already on the target, and retries a failed one with a new attempt", () => {
        const first = planStage({ ...base, percent: 10, ledger: emptyLedger });
        const [ok, bad] = first.cohort;
        const ledger: Ledger = { hosts: { [ok]: rec({ attempt: 1 }), [bad]: rec({ updateStatus: "rolled_back", currentVersion: B, attempt: 1 }) } };
        const p = planStage({ ...base, percent: 10, ledger });
        assert.deepStrictEqual([p.hosts[ok].attempt, p.hosts[ok].fresh], [1, false]);
        assert.deepStrictEqual([p.hosts[bad].attempt, p.hosts[bad].fresh], [2, true]);
    });

    it("never reuses an attempt id when a host goes back to a commit it ran before", () => {
        const p = planStage({ ...base, target: B, percent: 100, ledger: { hosts: { "vps-0": rec({ targetVersion: A, attempt: 4 }) } } });
        assert.strictEqual(p.hosts["vps-0"].attempt, 5);
        assert.strictEqual(p.hosts["vps-1"].attempt, 1);
    });

    it("refuses to advance a halted release, naming hosts, rate and how to go on", () => {
        assert.throws(() => planStage({ ...base, percent: 50, ledger: { hosts: {}, rollout: halted } }), (e: Error) => {
            assert.ok(e instanceof RolloutRefused);
            for (const part of ["halted", "vps-3", "50%", "30%", "targetCommit", "overrideHalt", "no host was touched"]) {
                assert.ok(e.message.includes(part), `message lacks ${part}: ${e.message}`);
            }
            return true;
        });
    });

    it("lets a halted release retry its stage, fix forward, or advance with the override", () => {
        const ledger = { hosts: {}, rollout: halted };
        assert.doesNotThrow(() => planStage({ ...base, percent: 10, ledger }));
        assert.doesNotThrow(() => planStage({ ...base, target: B, percent: 10, ledger }));
        const p = planStage({ ...base, percent: 50, ledger, overrideHalt: true });
        assert.ok(p.warnings.some((w) => w.includes("overrideHalt")));
    });

    it("warns when a new release starts above 10%", () => {
        const p = planStage({ ...base, target: B, percent: 100, ledger: { hosts: {}, rollout: { ...halted, halted: false } } });
        assert.ok(p.warnings.some((w) => w.includes("rather than 10%")), p.warnings.join());
    });
});

describe("stage verdict", () => {
    const r = (status: HostRecord["updateStatus"]) => rec({ updateStatus: status });
    it("counts rolled-back and unreachable hosts as failed, and halts only above the threshold", () => {
        const at = judgeStage(A, 100, 10, { a: r("success"), b: r("success"), c: r("success"), d: r("success"), e: r("success"), f: r("success"), g: r("success"), h: r("rolled_back"), i: r("failed"), j: r("failed") }, 0.3);
        assert.deepStrictEqual([at.failed, at.rolledBack, at.failureRate, at.halted], [3, 1, 0.3, false]);
        const above = judgeStage(A, 10, 2, { a: r("success"), b: r("rolled_back") }, 0.3);
        assert.deepStrictEqual([above.failed, above.halted, above.failedHosts], [1, true, ["b"]]);
    });
});

describe("halt carry-over", () => {
    it("a stage that attempts nothing keeps a halted release halted, so it cannot be cleared by re-running a done stage", () => {
        const empty = judgeStage(A, 10, 2, {}, 0.3);
        const kept = carryHalt(empty, { ...halted, percent: 50 });
        assert.deepStrictEqual([kept.halted, kept.percent, kept.failedHosts], [true, 50, ["vps-3"]]);
        assert.throws(() => planStage({ ...base, percent: 100, ledger: { hosts: {}, rollout: kept } }), RolloutRefused);
        assert.strictEqual(carryHalt(empty, { ...halted, release: B }).halted, false, "another release starts fresh");
        const retried = judgeStage(A, 50, 10, { "vps-3": rec({}) }, 0.3);
        assert.strictEqual(carryHalt(retried, halted).halted, false, "a successful retry clears the halt");
    });
});

describe("ledger", () => {
    it("reads nothing from a new stack and keeps only well-formed records", () => {
        assert.deepStrictEqual(ledgerFromOutputs(undefined, undefined), { hosts: {} });
        const l = ledgerFromOutputs({ a: rec({}), b: "junk", c: { nope: 1 } }, { release: A, halted: true });
        assert.deepStrictEqual(Object.keys(l.hosts), ["a"]);
        assert.strictEqual(l.rollout?.halted, true);
    });
});
