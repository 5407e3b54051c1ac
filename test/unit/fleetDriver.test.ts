// One stage over a sharded fleet, judged as one (fake shards): bounded parallelism, the
// fleet-wide budget that stops further shards, a shard's own halt halting the fleet, a
// locked shard (another operator) that halts nothing, and the sentence an operator reads.
import * as assert from "assert";
import { ShardResult, ShardRun, combineRollouts, fleetRollout, runFleetStage } from "../../operator/fleetDriver";
import { RolloutSummary } from "../../stages/ledger";
import { lockHolder, staleShardLocks } from "../../operator/fleetStage";

const R = "e".repeat(40);

function summary(attempted: number, failedHosts: string[], threshold = 0.3): RolloutSummary {
    const failed = failedHosts.length;
    return { release: R, percent: 10, cohortSize: attempted, attempted, succeeded: attempted - failed, rolledBack: failed, failed, failedHosts, failureRate: attempted ? failed / attempted : 0, threshold, halted: attempted > 0 && failed / attempted > threshold };
}

/** A shard that updates `attempted` hosts, of which `failing` fail; counts how many run at once. */
function shard(name: string, attempted: number, failing: string[], live: { now: number; max: number; order: string[] }, outcome?: ShardResult["outcome"], message?: string): ShardRun {
    return {
        name, planned: attempted,
        run: async () => {
            live.now++;
            live.max = Math.max(live.max, live.now);
            live.order.push(name);
            // A lock refuses at once; a stage takes a while.
            await new Promise((r) => setTimeout(r, outcome === "locked" ? 1 : 20));
            live.now--;
            if (outcome === "locked" || outcome === "failed") return { name, outcome, message: message! };
            const rollout = summary(attempted, failing);
            return { name, outcome: rollout.halted ? "halted" : "ran", rollout, message: `${attempted - failing.length}/${attempted}` };
        },
    };
}

const stage = (shards: ShardRun[], parallel = 2) => ({ release: R, percent: 10, threshold: 0.3, parallel, shards, say: () => undefined });

describe("a fleet stage over shards (fake shards)", () => {
    it("runs every shard, at most --shards-parallel at once, and adds their stages up into one verdict", async () => {
        const live = { now: 0, max: 0, order: [] as string[] };
        const shards = ["prod-s00", "prod-s01", "prod-s02", "prod-s03"].map((n) => shard(n, 5, [], live));
        const out = await runFleetStage(stage(shards, 2));
        assert.strictEqual(live.max, 2);
        assert.deepStrictEqual([out.halted, out.summary.attempted, out.summary.succeeded, out.notStarted], [false, 20, 20, []]);
        assert.strictEqual(out.sentence, `release ${R.slice(0, 12)} at 10% across 4 shards: 20/20 hosts succeeded.`);
    });

    it("a shard that halts on its own verdict halts the fleet and no further shard starts", async () => {
        const live = { now: 0, max: 0, order: [] as string[] };
        const shards = [shard("prod-s00", 1, ["lab-07"], live), shard("prod-s01", 1, [], live), shard("prod-s02", 1, [], live), shard("prod-s03", 1, [], live)];
        const out = await runFleetStage(stage(shards, 1));
        assert.deepStrictEqual(live.order, ["prod-s00"]);
        assert.deepStrictEqual(out.notStarted, ["prod-s01", "prod-s02", "prod-s03"]);
        assert.strictEqual(out.halted, true);
        assert.strictEqual(out.sentence, `release ${R.slice(0, 12)} at 10% across 4 shards: 0/1 hosts succeeded; ROLLOUT HALTED, failed: lab-07 (prod-s00) (failure rate 100%, threshold 30%). Not started: prod-s01, prod-s02, prod-s03 (the stage had already failed).`);
    });

    it("the threshold is the fleet's: failures spread over shards that each stay under it leave the fleet going, and are named with their shard", async () => {
        const live = { now: 0, max: 0, order: [] as string[] };
        // 4 shards × 10 hosts, 3 failing in three of them (30% each: not above the threshold).
        const shards = ["prod-s00", "prod-s01", "prod-s02", "prod-s03"].map((n, i) => shard(n, 10, i < 3 ? [`h${i}a`, `h${i}b`, `h${i}c`] : [], live));
        const out = await runFleetStage(stage(shards, 1));
        // 3 + 3 + 3 = 9 failures of 40 planned: under the budget of 12 until the end; the fleet's rate 9/40 = 22.5% passes.
        assert.deepStrictEqual([out.halted, out.notStarted.length, out.summary.failed], [false, 0, 9]);
        assert.match(out.sentence, /^release e{12} at 10% across 4 shards: 31\/40 hosts succeeded; failed: h0a \(prod-s00\), .* \(failure rate 22\.5%, threshold 30%\); the next pulumi up retries them\.$/);
        // Four failures per shard (40%): the first shard halts on its own verdict already.
        const worse = ["prod-s00", "prod-s01"].map((n, i) => shard(n, 10, [`x${i}1`, `x${i}2`, `x${i}3`, `x${i}4`], live));
        assert.strictEqual((await runFleetStage(stage(worse, 1))).halted, true);
    });

    it("a shard locked by another operator's update runs nothing and halts nothing, and no further shard starts; the stage is reported incomplete with the lock's holder", async () => {
        const live = { now: 0, max: 0, order: [] as string[] };
        const shards = [shard("prod-s00", 2, [], live), shard("prod-s01", 2, [], live, "locked", "the stack is locked by root@ops-2 (pid 4242): another update (another operator's driver?) holds it; nothing ran there"), shard("prod-s02", 2, [], live)];
        const out = await runFleetStage(stage(shards, 2));
        assert.deepStrictEqual([out.halted, out.locked.map((r) => r.name), out.notStarted], [false, ["prod-s01"], ["prod-s02"]]);
        assert.strictEqual(out.sentence, `release ${R.slice(0, 12)} at 10% across 3 shards: 2/2 hosts succeeded. prod-s01 did not run: the stack is locked by root@ops-2 (pid 4242): another update (another operator's driver?) holds it; nothing ran there. ` +
            "Not started: prod-s02 (another update holds the fleet: run npm run fleet again once it has finished).");
    });

    it("combines only the shards that recorded this stage; a stage that updated nothing says so", async () => {
        const c = combineRollouts(R, 10, 0.3, [{ name: "a", rollout: summary(3, ["x"]) }, { name: "b", rollout: { ...summary(5, []), percent: 50 } }, { name: "c" }]);
        assert.deepStrictEqual([c.attempted, c.failed, c.failedHosts], [3, 1, ["x (a)"]]);
        const live = { now: 0, max: 0, order: [] as string[] };
        const out = await runFleetStage(stage([shard("prod-s00", 0, [], live, "failed", "the stage did not run: rachel-fleet:targetCommit must be a full 40-character lowercase hex git SHA")], 1));
        assert.strictEqual(out.sentence, `release ${R.slice(0, 12)} at 10% across 1 shard: no host was updated. prod-s00: the stage did not run: rachel-fleet:targetCommit must be a full 40-character lowercase hex git SHA`);
    });

    it("the fleet is where its least advanced shard is: a stage one shard has not run is not done; a recorded halt is the fleet's", () => {
        const at = (percent: number, failed: string[] = []) => ({ ...summary(4, failed), percent });
        const all50 = [{ name: "a", rollout: at(50) }, { name: "b", rollout: at(50) }];
        assert.deepStrictEqual([fleetRollout(R, 50, 0.3, all50)?.percent, fleetRollout(R, 50, 0.3, all50)?.attempted], [50, 8]);
        // A driver killed during the 50% stage: one shard ran it, the other is still at 10%.
        const killed = [{ name: "a", rollout: at(50) }, { name: "b", rollout: at(10) }];
        assert.deepStrictEqual([fleetRollout(R, 50, 0.3, killed)?.percent, fleetRollout(R, 50, 0.3, killed)?.attempted], [10, 4]);
        // A shard that never ran the release (still on the last one): the fleet has not started it.
        assert.strictEqual(fleetRollout(R, 10, 0.3, [{ name: "a", rollout: at(10) }, { name: "b", rollout: { ...at(100), release: "f".repeat(40) } }]), undefined);
        const halted = fleetRollout(R, 50, 0.3, [{ name: "a", rollout: at(10, ["x", "y"]) }, { name: "b" }], { release: R, percent: 10, reason: "0/4" });
        assert.deepStrictEqual([halted?.percent, halted?.halted, halted?.failedHosts], [10, true, ["x (a)", "y (a)"]]);
        // A bad percentage in the fleet's config (NaN from "abc"): where the shards are, not NaN.
        assert.deepStrictEqual([fleetRollout(R, Number("abc"), 0.3, killed)?.percent, fleetRollout(R, Number(undefined), 0.3, all50)?.percent], [10, 50]);
    });

    it("the autopilot releases only the shard locks a pulumi of this machine left behind when it died", async () => {
        const engine = (host: string, pid: number) =>
            `error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with \`pulumi cancel\`.\n  postgres://x/.pulumi/locks/organization/rachel-fleet/prod-s0x/1.json: created by root@${host} (pid ${pid}) at 2026-11-30T12:00:00Z`;
        const live = { now: 0, max: 0, order: [] as string[] };
        const locked = (name: string, host: string, pid: number) => shard(name, 2, [], live, "locked", lockHolder(engine(host, pid)));
        const out = await runFleetStage(stage([locked("prod-s00", "here", 101), locked("prod-s01", "here", 102), locked("prod-s02", "elsewhere", 103)], 3));
        assert.match(out.sentence, /prod-s00 did not run: the stack is locked by root@here \(pid 101\) since 2026-11-30T12:00:00Z: /);
        // pid 101 is gone, 102 still runs, 103 is another machine's.
        assert.deepStrictEqual(staleShardLocks(out.sentence, "here", (pid) => pid === 102), ["prod-s00"]);
        assert.deepStrictEqual(staleShardLocks(out.sentence, "here", () => true), []);
    });
});
