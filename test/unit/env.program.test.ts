// A subscriber's env in the program (mocked engine): delivered in each host's prepare, kept
// in state only as secret digests, and a change of one host's env changes that host alone.
import * as assert from "assert";
import { Registered, SHA_A, SHA_B, labConfig, runProgram, updatingHosts, valueOf } from "./mockFleet";
import { cohortFor } from "../../stages/cohort";

const TOKEN = "7301234567:AAH-very-secret-bot-token";
const asPrevious = (o: any) => ({ fleet: o.fleet, rollout: o.rollout, stackId: o.stackId, envDigests: o.envDigests });

/** labConfig's hosts, each with the env given for it (by index). */
function withEnv(n: number, envs: Record<number, Record<string, string>>, extra: Record<string, string> = {}) {
    const base = labConfig(n, extra);
    const hosts = JSON.parse(base.hosts).map((h: object, i: number) => (envs[i] ? { ...h, env: envs[i] } : h));
    return { ...base, hosts: JSON.stringify(hosts) };
}


describe("a subscriber's env in the program (mocked engine)", function () {
    this.timeout(120000);
    afterEach(() => (process.exitCode = 0));

    it("delivers each host's own environment file in its prepare; state keeps only digests, as a secret output", async () => {
        const fake = { delivered: {} as Record<string, string>, registered: [] as Registered[] };
        const cfg = withEnv(3, { 0: { TELEGRAM_BOT_TOKEN: TOKEN } }, { rolloutPercent: "100", env: JSON.stringify({ LOG_LEVEL: "info" }) });
        const run = await runProgram(cfg, fake);
        assert.deepStrictEqual(fake.delivered, {
            "vps-01": `LOG_LEVEL="info"\nTELEGRAM_BOT_TOKEN="${TOKEN}"\n`,
            "vps-02": `LOG_LEVEL="info"\n`,
            "vps-03": `LOG_LEVEL="info"\n`,
        });
        assert.ok(run.secretOutputs.includes("envDigests"), `envDigests must be a secret output (secret: ${run.secretOutputs})`);
        assert.deepStrictEqual(Object.keys(run.outputs.envDigests).sort(), ["vps-01", "vps-02", "vps-03"]);
        assert.ok(Object.values(run.outputs.envDigests).every((d) => /^[0-9a-f]{32}$/.test(d as string)));
        const everything = JSON.stringify([run.outputs, await Promise.all(run.registered.map(async (r) => valueOf(r.inputs.create ?? r.inputs.spec)))]);
        assert.ok(!everything.includes("very-secret"), "a value reached an output or a resource's inputs");
    });

    it("rotating one host's token updates exactly that host, on the release it runs, outside the release's verdict", async () => {
        const first = await runProgram(withEnv(4, { 1: { TOKEN: "old" } }, { rolloutPercent: "100" }));
        const fake = { delivered: {} as Record<string, string>, registered: [] as Registered[], previousOutputs: asPrevious(first.outputs) };
        const next = await runProgram(withEnv(4, { 1: { TOKEN: "new" } }, { rolloutPercent: "100" }), fake);
        const changed = await updatingHosts(fake.registered);
        assert.deepStrictEqual(Object.keys(changed), ["vps-02"], "only the rotated host changes");
        assert.match(changed["vps-02"], new RegExp(` 'update' '${SHA_A}' '${SHA_A.slice(0, 12)}-2-`), "a new attempt at the same release");
        assert.deepStrictEqual(Object.keys(fake.delivered), ["vps-02"]);
        assert.strictEqual(next.outputs.rollout.attempted, 0, "an environment change is not an attempt of the release");
        assert.notStrictEqual(next.outputs.envDigests["vps-02"], first.outputs.envDigests["vps-02"]);
        assert.strictEqual(next.outputs.envDigests["vps-01"], first.outputs.envDigests["vps-01"]);
        // The same config again changes nothing.
        const again = { registered: [] as Registered[], previousOutputs: asPrevious(next.outputs) };
        await runProgram(withEnv(4, { 1: { TOKEN: "new" } }, { rolloutPercent: "100" }), again);
        assert.deepStrictEqual(await updatingHosts(again.registered), {});
    });

    it("a held host (outside the new release's stage) gets its new environment on the commit it runs", async () => {
        const names = Array.from({ length: 10 }, (_, i) => `vps-${String(i + 1).padStart(2, "0")}`);
        const first = await runProgram(labConfig(10, { rolloutPercent: "100" }));
        const held = names.find((n) => !cohortFor(10, names, SHA_B).includes(n))!;
        const idx = names.indexOf(held);
        const fake = { registered: [] as Registered[], previousOutputs: asPrevious(first.outputs) };
        const next = await runProgram(withEnv(10, { [idx]: { TOKEN: "x" } }, { targetCommit: SHA_B, rolloutPercent: "10" }), fake);
        const changed = await updatingHosts(fake.registered);
        assert.match(changed[held], new RegExp(` 'update' '${SHA_A}' `), `${held} stays on ${SHA_A}`);
        assert.strictEqual(Object.keys(changed).length, 2, `the 10% cohort and ${held}: ${Object.keys(changed)}`);
        assert.strictEqual(next.outputs.rollout.attempted, 1);
        assert.strictEqual(next.outputs.fleet[held].targetVersion, SHA_A);
    });

    it("a change that failed (rolled back) keeps the old digest, so the next up tries again", async () => {
        const first = await runProgram(withEnv(3, { 0: { TOKEN: "old" } }, { rolloutPercent: "100" }));
        const rolled = await runProgram(withEnv(3, { 0: { TOKEN: "invalid" } }, { rolloutPercent: "100" }), { previousOutputs: asPrevious(first.outputs), rolledBack: ["vps-01"] });
        assert.strictEqual(rolled.outputs.envDigests["vps-01"], first.outputs.envDigests["vps-01"]);
        assert.strictEqual(rolled.outputs.fleet["vps-01"].updateStatus, "rolled_back");
        assert.strictEqual(rolled.outputs.rollout.failed, 0, "not a failure of the release");
        const retry = { registered: [] as Registered[], previousOutputs: asPrevious(rolled.outputs) };
        await runProgram(withEnv(3, { 0: { TOKEN: "invalid" } }, { rolloutPercent: "100" }), retry);
        assert.deepStrictEqual(Object.keys(await updatingHosts(retry.registered)), ["vps-01"]);
    });
});
