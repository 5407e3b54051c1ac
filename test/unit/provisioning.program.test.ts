// A subscriber's VPS from order to ready, in the program (mocked engine): a server this
// stack provisions is brought to ready by its first up whatever the stage, its phase is in
// the `fleet` output, and a VPS that is not ready is never a failure of the release.
import * as assert from "assert";
import { Registered, SHA_A, SHA_B, labConfig, runProgram, updatingHosts } from "./mockFleet";

const asPrevious = (o: any) => ({ fleet: o.fleet, rollout: o.rollout, stackId: o.stackId, envDigests: o.envDigests });
const TOKEN = "7301234567:AAH-provisioned-secret";

/** 8 static hosts and two servers to provision, at `percent`. */
function fleetConfig(percent: string, extra: Record<string, string> = {}) {
    const servers = [{ name: "hz-1", env: { TELEGRAM_BOT_TOKEN: TOKEN } }, { name: "hz-2" }];
    return { ...labConfig(8, { rolloutPercent: percent, repoUrl: "https://git.example.org/rachel8.git", ...extra }), hetzner: JSON.stringify({ servers, appPort: 8080 }) };
}

describe("a provisioned VPS from order to ready (mocked engine)", function () {
    this.timeout(120000);
    afterEach(() => (process.exitCode = 0));

    it("preview shows a server it would create as creating", async () => {
        const { outputs } = await runProgram(fleetConfig("10"), { preview: true }, ["sshPrivateKey", "hetzner"]);
        assert.deepStrictEqual(outputs.fleet["hz-1"].provisioning, { phase: "creating" });
        assert.strictEqual(outputs.fleet["vps-01"].provisioning, undefined, "a static host has no provisioning phase");
    });

    it("the first up brings every new server to ready whatever the stage, with its own env, outside the release's verdict", async () => {
        const fake = { registered: [] as Registered[], delivered: {} as Record<string, string> };
        const { outputs } = await runProgram(fleetConfig("10"), fake, ["sshPrivateKey", "hetzner"]);
        const changed = Object.keys(await updatingHosts(fake.registered));
        assert.ok(changed.includes("hz-1") && changed.includes("hz-2"), `both new servers are updated at 10%: ${changed}`);
        for (const n of ["hz-1", "hz-2"]) {
            const rec = outputs.fleet[n];
            assert.strictEqual(rec.provisioning.phase, "ready", JSON.stringify(rec));
            assert.strictEqual(rec.provisioning.provisionedAt, rec.lastUpdateAt);
            assert.strictEqual(rec.currentVersion, SHA_A);
        }
        assert.strictEqual(fake.delivered["hz-1"], `TELEGRAM_BOT_TOKEN="${TOKEN}"\n`);
        assert.strictEqual(fake.delivered["hz-2"], "");
        const staticCohort = changed.filter((n) => n.startsWith("vps-")).length;
        assert.strictEqual(outputs.rollout.attempted, staticCohort, "the new servers are not attempts of the release");
        assert.ok(!JSON.stringify(outputs).includes(TOKEN));
    });

    it("a server whose cloud-init failed is failed in phase cloud-init, is not a release failure, and is tried again", async () => {
        const error = "prepare failed before any switch: begin failed (exit 1): cloud-init failed on this VPS: (…) (the tail of /var/log/cloud-init-output.log: fatal: unable to access …)";
        const first = await runProgram(fleetConfig("10"), { failed: ["hz-2"], errors: { "hz-2": error } }, ["sshPrivateKey", "hetzner"]);
        assert.deepStrictEqual(first.outputs.fleet["hz-2"].provisioning, { phase: "failed", failedIn: "cloud-init" });
        assert.strictEqual(first.outputs.fleet["hz-2"].error, error);
        assert.strictEqual(first.outputs.rollout.failed, 0);
        assert.strictEqual(first.outputs.rollout.halted, false);
        const again = { registered: [] as Registered[], previousOutputs: asPrevious(first.outputs) };
        const next = await runProgram(fleetConfig("10"), again, ["sshPrivateKey", "hetzner"]);
        assert.deepStrictEqual(Object.keys(await updatingHosts(again.registered)), ["hz-2"], "only the failed server is tried again");
        assert.strictEqual(next.outputs.fleet["hz-2"].provisioning.phase, "ready");
        assert.strictEqual(next.outputs.fleet["hz-1"].provisioning.provisionedAt, first.outputs.fleet["hz-1"].provisioning.provisionedAt, "a ready server keeps its time");
    });

    it("a ready server then follows the stages like any host, and stays ready", async () => {
        const first = await runProgram(fleetConfig("100"), {}, ["sshPrivateKey", "hetzner"]);
        const fake = { registered: [] as Registered[], previousOutputs: asPrevious(first.outputs) };
        const next = await runProgram(fleetConfig("10", { targetCommit: SHA_B }), fake, ["sshPrivateKey", "hetzner"]);
        const changed = Object.keys(await updatingHosts(fake.registered));
        assert.strictEqual(changed.length, next.outputs.rollout.attempted, `only the 10% cohort changes: ${changed}`);
        for (const n of ["hz-1", "hz-2"]) {
            assert.strictEqual(next.outputs.fleet[n].provisioning.phase, "ready");
            assert.strictEqual(next.outputs.fleet[n].targetVersion, changed.includes(n) ? SHA_B : SHA_A);
        }
    });
});
