import * as assert from "assert";
import { Registered, SHA_A, SHA_B, STACK_ID, labConfig, runProgram, updatingHosts } from "./mockFleet";
import { cohortFor } from "../../stages/cohort";

const names = Array.from({ length: 10 }, (_, i) => `vps-${String(i + 1).padStart(2, "0")}`);
const COMMAND = "command:remote:Command";
const asPrevious = (outputs: any) => ({ fleet: outputs.fleet, rollout: outputs.rollout, stackId: outputs.stackId });
const noBake = { bakeSeconds: "0" };


describe("promotion gates in the program (mocked engine, 10 hosts)", function () {
    this.timeout(120000);
    const canary = cohortFor(10, names, SHA_A)[0];
    let stage10: any;

    before(async () => {
        stage10 = (await runProgram(labConfig(10, { rolloutPercent: "10", ...noBake }))).outputs;
        assert.deepStrictEqual([stage10.rollout.succeeded, stage10.rollout.halted], [1, false]);
    });
    afterEach(() => (process.exitCode = 0));

    it("refuses an advance before the bake is over, before any host is read or any resource registered", async () => {
        const baking = { ...stage10.fleet, [canary]: { ...stage10.fleet[canary], lastUpdateAt: new Date(Date.now() - 30_000).toISOString() } };
        const fake = { previousOutputs: { fleet: baking, rollout: stage10.rollout }, rechecked: [] as string[], registered: [] as Registered[] };
        await assert.rejects(runProgram(labConfig(10, { rolloutPercent: "50", bakeSeconds: "120" }), fake), (e: Error) => {
            assert.match(e.message, /has baked for 3\ds since its 10% stage's last verify; rachel-fleet:bakeSeconds asks for 2m00s before 50% may start/);
            assert.match(e.message, /Run pulumi up again in 1m[23]\ds, after \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
            return true;
        });
        assert.deepStrictEqual(fake.rechecked, [], "no host may be read before the bake is over");
        assert.deepStrictEqual(fake.registered.filter((r) => r.type === COMMAND), []);
    });

    it("re-checks the canary at promotion and advances when it is as its verify left it", async () => {
        const fake = { previousOutputs: asPrevious(stage10), rechecked: [] as string[], registered: [] as Registered[] };
        const { outputs } = await runProgram(labConfig(10, { rolloutPercent: "50", ...noBake }), fake);
        assert.deepStrictEqual(fake.rechecked, [canary]);
        assert.deepStrictEqual([outputs.rollout.percent, outputs.rollout.attempted, outputs.rollout.halted], [50, 4, false]);
        assert.ok(!Object.keys(await updatingHosts(fake.registered)).includes(canary), "the canary is not updated again");
    });

    it("a regressed canary refuses the advance in preview and up: nothing changes, the canary is failed, the rollout halted", async () => {
        for (const preview of [true, false]) {
            const fake = { preview, previousOutputs: asPrevious(stage10), recheck: { [canary]: { serviceState: "inactive" } }, registered: [] as Registered[] };
            const { outputs } = await runProgram(labConfig(10, { rolloutPercent: "50", ...noBake }), fake);
            assert.deepStrictEqual(await updatingHosts(fake.registered), {}, "a refused advance changes no host");
            assert.strictEqual(process.exitCode, 32, "the refusal fails the run");
            process.exitCode = 0;
            if (preview) continue;
            assert.deepStrictEqual([outputs.fleet[canary].updateStatus, outputs.fleet[canary].error], ["failed", "re-check before 50%: rachel8 is inactive"]);
            assert.deepStrictEqual([outputs.rollout.percent, outputs.rollout.halted, outputs.rollout.failedHosts], [10, true, [canary]]);
            assert.match(outputs.rollout.refusal, new RegExp(`found: ${canary} rachel8 is inactive\\. A host that regressed after its stage refuses the advance`));
            assert.deepStrictEqual(outputs.changing, []);
            // The next advance is refused as a halt; a retry of 10% updates the canary again.
            await assert.rejects(runProgram(labConfig(10, { rolloutPercent: "50", ...noBake }), { previousOutputs: asPrevious(outputs) }), /is halted: the re-check/);
            // A new release whose canary is another host holds this one: it stays failed, not success.
            const other = await runProgram(labConfig(10, { targetCommit: SHA_B, rolloutPercent: "10", ...noBake }), { previousOutputs: asPrevious(outputs) });
            assert.ok(!other.outputs.cohort.includes(canary), "this check needs the other release to have another canary");
            assert.deepStrictEqual([other.outputs.fleet[canary].updateStatus, other.outputs.fleet[canary].error], ["failed", "re-check before 50%: rachel8 is inactive"]);
            const retry = await runProgram(labConfig(10, { rolloutPercent: "10", ...noBake }), { previousOutputs: asPrevious(outputs) });
            assert.deepStrictEqual([retry.outputs.changing, retry.outputs.fleet[canary].attempt, retry.outputs.rollout.halted], [[canary], 2, false]);
        }
    });

    it("drift comes back: a canary moved by hand is updated again by the next up of the stage, as a new attempt, saying why", async () => {
        const fake = { previousOutputs: asPrevious(stage10), recheck: { [canary]: { head: SHA_B } }, registered: [] as Registered[] };
        const { outputs } = await runProgram(labConfig(10, { rolloutPercent: "10", ...noBake }), fake);
        const cmds = await updatingHosts(fake.registered);
        assert.deepStrictEqual(Object.keys(cmds), [canary]);
        assert.match(cmds[canary], new RegExp(` 'update' '${SHA_A}' '${SHA_A.slice(0, 12)}-2-${STACK_ID}' `));
        assert.deepStrictEqual(outputs.rollout.recheck, { [canary]: `runs ${SHA_B.slice(0, 12)}, not ${SHA_A.slice(0, 12)} (moved since its verify)` });
        assert.deepStrictEqual([outputs.fleet[canary].attempt, outputs.fleet[canary].updateStatus], [2, "success"]);
    });

    it("an unreadable canary counts against the threshold: refused at 30% with one canary, advanced (and retried) at 100%", async () => {
        const fake = () => ({ previousOutputs: asPrevious(stage10), unreachable: [canary], registered: [] as Registered[] });
        const refused = await runProgram(labConfig(10, { rolloutPercent: "50", ...noBake }), fake());
        assert.strictEqual(refused.outputs.rollout.halted, true);
        assert.match(refused.outputs.rollout.refusal, /1 of 1 hosts of the 10% stage count as failed \(100%, threshold 30%\)/);
        process.exitCode = 0;
        const lenient = fake();
        const advanced = await runProgram(labConfig(10, { rolloutPercent: "50", failureThreshold: "1", ...noBake }), lenient);
        assert.deepStrictEqual([advanced.outputs.rollout.percent, advanced.outputs.rollout.halted], [50, false]);
        assert.ok(Object.keys(await updatingHosts(lenient.registered)).includes(canary), "the unreadable canary is tried again");
        assert.match(advanced.outputs.fleet[canary].error, /could not be read: rachel@127\.0\.1\.\d+:22: unreachable/);
    });

    it("outside a promotion, a host on the release that cannot be read is left as it is, said once (a no-op stays a no-op)", async () => {
        const fake = { previousOutputs: asPrevious(stage10), unreachable: [canary], registered: [] as Registered[] };
        const { outputs } = await runProgram(labConfig(10, { rolloutPercent: "10", ...noBake }), fake);
        assert.deepStrictEqual(await updatingHosts(fake.registered), {});
        assert.deepStrictEqual([outputs.changing, outputs.fleet[canary].updateStatus, outputs.rollout.halted], [[], "success", false]);
    });

    it("a fleet grown from 10 to 17 hosts between 10% and 50% advances (no refusal), the new hosts joining the cohort", async () => {
        const first = await runProgram(labConfig(10, { rolloutPercent: "10", ...noBake }));
        const fake = { previousOutputs: asPrevious(first.outputs), rechecked: [] as string[], registered: [] as Registered[] };
        const grown = await runProgram(labConfig(17, { rolloutPercent: "50", ...noBake }), fake);
        assert.strictEqual(grown.outputs.rollout.halted, false, JSON.stringify(grown.outputs.rollout));
        const all = Array.from({ length: 17 }, (_, i) => `vps-${String(i + 1).padStart(2, "0")}`);
        const cohort50 = cohortFor(50, all, SHA_A);
        assert.deepStrictEqual(Object.keys(await updatingHosts(fake.registered)).sort(), cohort50.filter((n) => n !== cohortFor(10, names, SHA_A)[0]).sort(), "the 50% cohort of 17, less the canary");
        assert.ok(cohort50.some((n) => !names.includes(n)), "no new host is in the 50% cohort: the test proves nothing");
        assert.deepStrictEqual(fake.rechecked, [cohortFor(10, names, SHA_A)[0]]);
    });
});
