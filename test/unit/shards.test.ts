// Shards: a fleet split over stacks <name>-s00 …, each VPS in one shard by a hash of its name.
// The rule (stable when VPSs come and go, spread evenly), the stack-name check, and the
// program (mocked engine) registering exactly its shard's VPSs.
import * as assert from "assert";
import { ConfigError } from "../../config/config";
import { inShard, shardOf, shardOfStack, shardStackName } from "../../config/shards";
import { Registered, SHA_A, labConfig, runProgram, valueOf } from "./mockFleet";

const names = (n: number, prefix = "vps") => Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(5, "0")}`);

describe("shards", () => {
    it("a VPS's shard depends on its name alone: adding 5 VPSs to 40 moves none of the 40", () => {
        const before = names(40).map((n) => shardOf(n, 4));
        const grown = [...names(40), ...names(5, "new")];
        assert.deepStrictEqual(grown.slice(0, 40).map((n) => shardOf(n, 4)), before);
        assert.deepStrictEqual([0, 1, 2, 3].map((i) => inShard(grown.map((name) => ({ name })), { fleetStack: "prod", index: i, shards: 4 }).length).reduce((a, b) => a + b), 45, "every VPS is in exactly one shard");
    });

    it("spreads 10,000 VPSs over 20 shards within 10% of 500 each, and 40 over 4 with none empty", () => {
        const counts = new Array(20).fill(0);
        for (const n of names(10000)) counts[shardOf(n, 20)]++;
        assert.ok(counts.every((c) => c >= 450 && c <= 550), `shard sizes ${counts.join(",")}`);
        const small = new Array(4).fill(0);
        for (const n of names(40, "lab")) small[shardOf(n, 4)]++;
        assert.ok(small.every((c) => c > 0), `shard sizes ${small.join(",")}`);
    });

    it("a shard stack is <fleet>-sNN; any other stack of a sharded fleet is refused with the way to run it", () => {
        assert.strictEqual(shardStackName("prod", 3), "prod-s03");
        assert.strictEqual(shardOfStack("prod", 1, "rachel-fleet"), undefined);
        assert.deepStrictEqual(shardOfStack("prod-s03", 4, "rachel-fleet"), { fleetStack: "prod", index: 3, shards: 4 });
        assert.deepStrictEqual(shardOfStack("eu-prod-s12", 50, "rachel-fleet"), { fleetStack: "eu-prod", index: 12, shards: 50 });
        for (const [stack, fleet] of [["prod", "prod"], ["prod-s04", "prod"], ["prod-s1", "prod-s1"]]) {
            assert.throws(() => shardOfStack(stack, 4, "rachel-fleet"), (e: Error) => e instanceof ConfigError && e.message ===
                `rachel-fleet:shards is 4: this fleet runs as the stacks ${fleet}-s00 … ${fleet}-s03, and stack ${stack} is none of them. ` +
                `Fix: npm run fleet -- up --stack ${fleet} (it drives every shard), or pulumi up --stack ${fleet}-s00; to keep one stack: pulumi config rm rachel-fleet:shards`, stack);
        }
    });

    it("the program on a shard stack registers exactly that shard's VPSs, its cohort a percentage of the shard; on the fleet's own stack it refuses before registering any", async () => {
        const config = labConfig(12, { shards: "3" });
        const all = (JSON.parse(config.hosts) as { name: string }[]).map((h) => h.name);
        let total = 0;
        for (let i = 0; i < 3; i++) {
            const { registered, outputs } = await runProgram(config, { stackName: `dev-s0${i}` });
            const vpss = Object.keys(outputs.fleet).sort();
            const mine = all.filter((n) => shardOf(n, 3) === i).sort();
            assert.deepStrictEqual(vpss, mine, `shard ${i}`);
            // 10% of each shard: its own canary (canaries spread over every shard).
            const records = registered.filter((r) => r.type === "pulumi-nodejs:dynamic/rachel-fleet:VpsVersion");
            const updated = await Promise.all(records.map(async (r) => (await valueOf(r.inputs.spec)).hostName as string));
            assert.strictEqual(updated.length, 1, `shard ${i} updates ${updated.join(",")}`);
            assert.ok(mine.includes(updated[0]));
            total += vpss.length;
        }
        assert.strictEqual(total, 12);
        const registered: Registered[] = [];
        await assert.rejects(runProgram(config, { stackName: "dev", registered }), /rachel-fleet:shards is 3: this fleet runs as the stacks dev-s00 … dev-s02, and stack dev is none of them/);
        assert.ok(!registered.some((r) => r.type.includes("VpsVersion")), "a refused stack registered a VPS");
    });

    it("a fleet halt (npm run fleet's record) refuses any shard's advance of that release with the fleet's sentence; a retry or a new release goes on", async () => {
        const reason = "release aaaaaaaaaaaa at 10% across 3 shards: 1/3 hosts succeeded; ROLLOUT HALTED, failed: vps-09 (dev-s00).";
        const halt = JSON.stringify({ release: SHA_A, percent: 10, reason });
        await assert.rejects(runProgram(labConfig(12, { shards: "3", fleetHalt: halt, rolloutPercent: "50" }), { stackName: "dev-s01" }),
            (e: Error) => e.message.includes(`the rollout of aaaaaaaaaaaa is halted across the fleet: ${reason} Refusing to advance to 50%; no host was touched. To go on, either fix forward`));
        await runProgram(labConfig(12, { shards: "3", fleetHalt: halt, rolloutPercent: "10" }), { stackName: "dev-s01" });
        await runProgram(labConfig(12, { shards: "3", fleetHalt: halt.replace(SHA_A, "c".repeat(40)), rolloutPercent: "50" }), { stackName: "dev-s01" });
        await assert.rejects(runProgram(labConfig(12, { shards: "3", fleetHalt: "halted" }), { stackName: "dev-s01" }), /rachel-fleet:fleetHalt is not the fleet driver's record/);
    });
});
