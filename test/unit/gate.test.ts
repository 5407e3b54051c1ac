import * as assert from "assert";
import {
    PromotionInput, RecheckReading, assertBaked, bakeStartedAt, judgePromotion, judgeRecheck, recheckTargets, refusedSummary,
} from "../../stages/gate";
import { HostRecord, Ledger, RolloutSummary } from "../../stages/ledger";
import { RolloutRefused, planStage } from "../../stages/plan";

const A = "a".repeat(40);
const B = "b".repeat(40);
const T0 = Date.parse("2026-11-23T12:00:00Z");
const names = Array.from({ length: 10 }, (_, i) => `vps-${i}`);
const rec = (over: Partial<HostRecord> = {}): HostRecord => ({
    currentVersion: A, previousVersion: B, targetVersion: A, updateStatus: "success",
    lastUpdateAt: new Date(T0).toISOString(), error: "", attempt: 1, managed: true, ...over,
});
const stage10: RolloutSummary = {
    release: A, percent: 10, cohortSize: 1, attempted: 1, succeeded: 1, rolledBack: 0, failed: 0,
    failedHosts: [], failureRate: 0, threshold: 0.3, halted: false,
};
const healthy: RecheckReading = {
    reachable: true, reason: "", head: A, serviceState: "active", invocation: "i1", restarts: "0",
    verified: { commit: A, invocation: "i1", epoch: 1 }, marker: "", health: { url: "http://h/health", ok: true, body: `{"commit":"${A}"}` },
};

describe("promotion gates: the re-check of one host", () => {
    it("passes a host exactly as its verify left it", () => {
        assert.deepStrictEqual(judgeRecheck(healthy, A, "rachel8"), { kind: "ok" });
    });

    it("names each regression: moved commit, stopped service, restart since verify, health, marker", () => {
        const cases: [Partial<RecheckReading>, RegExp][] = [
            [{ head: B }, /runs bbbbbbbbbbbb, not aaaaaaaaaaaa \(moved since its verify\)/],
            [{ serviceState: "inactive" }, /rachel8 is inactive/],
            [{ serviceState: "failed" }, /rachel8 is failed/],
            [{ invocation: "i2", restarts: "3" }, /rachel8 was restarted since its verify \(systemd counts 3 automatic restarts\)/],
            [{ invocation: "i2" }, /rachel8 was restarted since its verify$/],
            [{ verified: { commit: B, invocation: "i1", epoch: 1 } }, /its last passing verify was of bbbbbbbbbbbb/],
            [{ health: { url: "http://h/health", ok: false, body: "curl: (7) Failed to connect" } }, /health http:\/\/h\/health failed: curl: \(7\)/],
            [{ health: { url: "http://h/health", ok: true, body: `{"commit":"${B}"}` } }, /answered without the commit/],
            [{ marker: '{"since":"x"}' }, /an update marker is present/],
        ];
        for (const [change, why] of cases) {
            const f = judgeRecheck({ ...healthy, ...change }, A, "rachel8");
            assert.strictEqual(f.kind, "regressed", JSON.stringify(change));
            assert.match((f as { why: string }).why, why);
        }
    });

    it("cannot tell a restart where systemd has no invocation id, and says an unreadable host could not be read", () => {
        assert.deepStrictEqual(judgeRecheck({ ...healthy, invocation: "", verified: { commit: A, invocation: "", epoch: 1 } }, A, "rachel8"), { kind: "ok" });
        assert.deepStrictEqual(judgeRecheck({ ...healthy, verified: undefined, health: undefined }, A, "rachel8"), { kind: "ok" }, "verified before the gate existed");
        const f = judgeRecheck({ ...healthy, reachable: false, reason: "rachel@10.0.0.1:22: unreachable (ECONNREFUSED)" }, A, "rachel8");
        assert.deepStrictEqual(f, { kind: "unreadable", why: "could not be read: rachel@10.0.0.1:22: unreachable (ECONNREFUSED)" });
    });
});

describe("promotion gates: bake time", () => {
    const ledger: Ledger = { hosts: { "vps-1": rec({ lastUpdateAt: new Date(T0 - 60_000).toISOString() }), "vps-2": rec() }, rollout: stage10 };
    const input = { ledger, release: A, percent: 50, bakeSeconds: 300 };

    it("starts the bake at the newest verify of a host on the release", () => {
        assert.strictEqual(bakeStartedAt(ledger, A), T0);
        assert.strictEqual(bakeStartedAt(ledger, B), undefined);
    });

    it("refuses an early advance with the time left and the clock time it may proceed", () => {
        assert.throws(() => assertBaked({ ...input, now: T0 + 72_000 }), (e: Error) => {
            assert.ok(e instanceof RolloutRefused);
            assert.match(e.message, /has baked for 1m12s since its 10% stage's last verify/);
            assert.match(e.message, /bakeSeconds asks for 5m00s before 50% may start/);
            assert.match(e.message, /no host was touched/);
            assert.match(e.message, /in 3m48s, after 2026-11-23 12:05:00 UTC/);
            return true;
        });
    });

    it("lets the advance go once baked, and never gates a retry, a new release, a first stage or bakeSeconds 0", () => {
        assertBaked({ ...input, now: T0 + 300_000 });
        assertBaked({ ...input, percent: 10, now: T0 });
        assertBaked({ ...input, release: B, now: T0 });
        assertBaked({ ...input, ledger: { hosts: ledger.hosts }, now: T0 });
        assertBaked({ ...input, bakeSeconds: 0, now: T0 });
    });
});

describe("promotion gates: the decision", () => {
    const cohort = ["vps-1", "vps-2", "vps-3", "vps-4", "vps-5"];
    const ledger: Ledger = { hosts: Object.fromEntries(cohort.map((n) => [n, rec()])), rollout: { ...stage10, percent: 50, cohortSize: 5, attempted: 5, succeeded: 5 } };
    const input = (findings: PromotionInput["findings"], over: Partial<PromotionInput> = {}): PromotionInput => ({
        release: A, percent: 100, last: ledger.rollout!, previousCohort: cohort, ledger, findings, threshold: 0.3, ...over,
    });
    const ok = Object.fromEntries(cohort.map((n) => [n, { kind: "ok" as const }]));

    it("advances when every host is as its verify left it", () => {
        const d = judgePromotion(input(ok));
        assert.deepStrictEqual([d.refused, d.failedHosts], [false, []]);
        assert.match(d.message, /every host of the 50% stage is still as its verify left it/);
    });

    it("refuses on any regression, naming each host and what regressed", () => {
        const d = judgePromotion(input({ ...ok, "vps-2": { kind: "regressed", why: "rachel8 is inactive" } }));
        assert.strictEqual(d.refused, true);
        assert.deepStrictEqual(d.failedHosts, ["vps-2"]);
        assert.match(d.message, /found: vps-2 rachel8 is inactive\. A host that regressed after its stage refuses the advance\. Refusing to advance to 100%; no host was touched\./);
    });

    it("counts unreadable hosts against the threshold: 1 of 5 passes at 30%, 2 of 5 is refused", () => {
        const down = (n: string) => ({ kind: "unreadable" as const, why: `could not be read: ${n} unreachable` });
        const one = judgePromotion(input({ ...ok, "vps-1": down("vps-1") }));
        assert.deepStrictEqual([one.refused, one.failedHosts, one.failureRate], [false, ["vps-1"], 0.2]);
        assert.match(one.message, /1 of 5 hosts of the 50% stage count as failed \(20%, threshold 30%\): advancing; those hosts are updated again/);
        const two = judgePromotion(input({ ...ok, "vps-1": down("vps-1"), "vps-4": down("vps-4") }));
        assert.deepStrictEqual([two.refused, two.failedHosts], [true, ["vps-1", "vps-4"]]);
        assert.match(two.message, /2 of 5 hosts of the 50% stage count as failed \(40%, threshold 30%\)\. Refusing/);
    });

    it("counts the stage's own failures with the unreadable ones", () => {
        const withFailure: Ledger = { ...ledger, hosts: { ...ledger.hosts, "vps-3": rec({ updateStatus: "rolled_back" }) } };
        const d = judgePromotion(input({ ...ok, "vps-1": { kind: "unreadable", why: "could not be read" } }, { ledger: withFailure }));
        assert.deepStrictEqual([d.refused, d.failedHosts], [true, ["vps-1", "vps-3"]]);
    });

    it("records a refusal as a halt of the previous stage, with what was found, so the next advance is refused too", () => {
        const i = input({ ...ok, "vps-2": { kind: "regressed", why: "rachel8 is inactive" } });
        const s = refusedSummary(i, judgePromotion(i));
        assert.deepStrictEqual([s.percent, s.halted, s.failed, s.failedHosts, s.recheck], [50, true, 1, ["vps-2"], { "vps-2": "rachel8 is inactive" }]);
        assert.throws(() => planStage({ hostNames: names, target: A, percent: 100, ledger: { hosts: ledger.hosts, rollout: s }, overrideHalt: false }), (e: Error) => {
            assert.match(e.message, /is halted: the re-check of release aaaaaaaaaaaa before 100% found: vps-2 rachel8 is inactive/);
            assert.match(e.message, /retry the 50% stage \(pulumi config set rachel-fleet:rolloutPercent 50\)/);
            return true;
        });
    });
});

describe("promotion gates: what the plan does with findings (one plan: planStage takes them)", () => {
    const input = { hostNames: names, target: A, percent: 50, ledger: { hosts: { [names[0]]: rec() } }, overrideHalt: false };
    const plan = planStage(input);
    const onRelease = plan.cohort.find((n) => !plan.hosts[n].fresh)!;

    it("re-checks only the cohort's hosts already on the release", () => {
        assert.deepStrictEqual(recheckTargets(plan), [names[0]]);
        assert.strictEqual(onRelease, names[0]);
    });

    it("updates a host found otherwise again, as a new attempt, saying why", () => {
        const p = planStage({ ...input, gate: { redo: { [onRelease]: "runs bbbbbbbbbbbb" } } });
        assert.deepStrictEqual([p.hosts[onRelease].fresh, p.hosts[onRelease].attempt, p.hosts[onRelease].redo], [true, 2, "runs bbbbbbbbbbbb"]);
        assert.deepStrictEqual(planStage({ ...input, gate: { redo: {} } }), plan);
    });

    it("holds every host on a refusal: nothing changes, never-managed hosts stay untracked", () => {
        const held = planStage({ ...input, gate: { refusedAt: { percent: 10, cohort: [names[0]] } } });
        assert.deepStrictEqual([held.percent, held.cohort], [10, [names[0]]], "the stage stays the one before");
        for (const n of names) {
            assert.strictEqual(held.hosts[n].fresh, false);
            assert.strictEqual(held.hosts[n].mode, n === names[0] ? "hold" : "untracked");
        }
    });
});
