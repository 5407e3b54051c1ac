// End to end: release directories under the real Pulumi engine on a 5-host lab. Prepares
// run ahead of the switches (prepareParallel) while switches keep to maxParallel; a kill -9
// of `up` in the middle of the switches converges on the next up; a stack re-created over
// hosts another stack updated runs attempts of its own. Checked on the hosts themselves.
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import { LabStatus } from "../../lab/labStatus";
import { runOnHost } from "../../lab/sshExec";
import { endStackProcesses } from "../../lab/labProject";
import { hostTruth } from "../lab/hostTruth";
import { TestStack, createTestStack, labStackSuite, runLog } from "./stackHarness";

/** [start, end] of one step of a host's newest attempt at `commit`, from the host's own stamps. */
async function stepSpan(status: LabStatus, i: number, commit: string, step: string): Promise<[number, number]> {
    const r = await runOnHost(status.hosts[i], `cat "$(ls -1dt ~/.rachel-fleet/attempts/${commit.slice(0, 12)}-* | head -1)/time-${step}"`);
    const [a, b] = r.stdout.trim().split(" ").map(Number);
    assert.ok(a > 0 && b >= a, `${status.hosts[i].name}: no ${step} stamps for ${commit}: ${r.stdout}${r.stderr}`);
    return [a, b];
}
const overlapping = (spans: [number, number][]) => Math.max(...spans.map(([a]) => spans.filter(([s, e]) => s <= a && a < e).length));

describe("release directories under the real Pulumi engine (5-host lab)", function () {
    this.timeout(1800000);
    let status: LabStatus;
    let t: TestStack;
    const sha = (tag: string) => (status.releases as Record<string, string>)[tag];
    const up = (tag: string, extra: Record<string, unknown> = {}) => {
        t.configure({ targetCommit: sha(tag), rolloutPercent: 100, ...extra });
        return t.stack.up({ onOutput: runLog.write });
    };
    const assertAllOn = async (tag: string) => {
        for (const h of status.hosts) {
            const truth = await hostTruth(h);
            assert.deepStrictEqual([truth.head, truth.active, truth.marker, truth.cwd], [sha(tag), "active", "no-marker", `/home/rachel/releases/${sha(tag)}`], `${h.name} is not on ${tag}`);
            // No stale lock: nothing holds the host lock once the rollout has finished.
            const free = await runOnHost(h, "flock -n ~/.rachel-fleet/lock true && echo free");
            assert.strictEqual(free.stdout.trim(), "free", `${h.name}: the host lock is still held`);
        }
    };

    labStackSuite("releases", 5, (st) => ({ targetCommit: st.releases.v1, rolloutPercent: 100 }), (st, ts) => ((status = st), (t = ts)));

    it("prepares every changing host ahead (prepareParallel 5), while switches keep to maxParallel 1", async () => {
        const res = await up("install-10s", { maxParallel: 1, prepareParallel: 5 });
        assert.strictEqual(res.outputs.rollout.value.succeeded, 5, JSON.stringify(res.outputs.rollout.value));
        const installs = await Promise.all(status.hosts.map((_, i) => stepSpan(status, i, sha("install-10s"), "install")));
        const switches = await Promise.all(status.hosts.map(async (_, i) => {
            const [a] = await stepSpan(status, i, sha("install-10s"), "switch");
            return [a, (await stepSpan(status, i, sha("install-10s"), "verify"))[1]] as [number, number];
        }));
        assert.ok(overlapping(installs) >= 4, `the ~10 s installs did not run side by side: ${JSON.stringify(installs)}`);
        assert.strictEqual(overlapping(switches), 1, `switches overlapped at maxParallel 1: ${JSON.stringify(switches)}`);
        // Every install was over before the last host switched: prepared ahead, not in turn.
        assert.ok(Math.max(...installs.map(([, e]) => e)) < Math.max(...switches.map(([s]) => s)), "the prepares did not run ahead of the switches");
        await assertAllOn("install-10s");
    });

    it("kill -9 of up in the middle of the switches: the next up converges, no host between releases, no stale lock", async () => {
        t.configure({ targetCommit: sha("v2"), rolloutPercent: 100, maxParallel: 1, prepareParallel: 5 });
        const env = { ...process.env, ...t.env };
        const run = spawn("pulumi", ["up", "--yes", "--skip-preview", "--stack", "releases"], { cwd: t.dir, env, detached: true, stdio: "ignore" });
        // Kill once one host runs v2 and another does not yet: the switches are under way.
        const deadline = Date.now() + 180000;
        for (;;) {
            assert.ok(Date.now() < deadline && run.exitCode === null, "pulumi up ended (or took too long) before it could be killed mid-switch");
            const heads = await Promise.all(status.hosts.map((h) => runOnHost(h, "git -C /home/rachel/rachel rev-parse HEAD").then((r) => r.stdout.trim())));
            if (heads.some((x) => x === sha("v2")) && heads.some((x) => x !== sha("v2"))) break;
            await new Promise((r) => setTimeout(r, 200));
        }
        process.kill(-run.pid!, "SIGKILL");
        endStackProcesses(t.home);
        const cli = (...args: string[]) => spawnSync("pulumi", [...args, "--stack", "releases"], { cwd: t.dir, env, encoding: "utf8" });
        const cancel = cli("cancel", "--yes");
        assert.strictEqual(cancel.status, 0, cancel.stdout + cancel.stderr);
        const again = cli("up", "--yes", "--skip-preview");
        assert.strictEqual(again.status, 0, again.stdout + again.stderr);
        // The program says in its own words which hosts the killed run left, and what it does about them.
        assert.match(again.stdout, /lab-0\d: an earlier run \(a killed pulumi up, or one cut off from the VPS\) left its update to [0-9a-f]{12} unfinished \(attempt [0-9a-f]{12}-\d+-[0-9a-f]{8}, since [^)]+\); this up resumes that attempt/);
        await assertAllOn("v2");
    });

    it("a stack re-created over these hosts (same releases, same attempt numbers) runs attempts of its own: each host restarted and verified", async () => {
        // This stack has taken every host to install-10s, v2 and v3 (attempts 1, 2 and 3 per host).
        const a = (await up("v3", { maxParallel: 5 })).outputs.fleet.value;
        await assertAllOn("v3");
        const other = await createTestStack("again", status, { targetCommit: sha("install-10s"), rolloutPercent: 100, maxParallel: 5, prepareParallel: 5 });
        try {
            // The same releases in the same order: the same attempt numbers as the first stack's.
            for (const [n, tag] of ["install-10s", "v2", "v3"].entries()) {
                const pids = await Promise.all(status.hosts.map((h) => hostTruth(h).then((x) => x.pid)));
                other.configure({ targetCommit: sha(tag), rolloutPercent: 100 });
                const res = await other.stack.up({ onOutput: runLog.write });
                const fleet = res.outputs.fleet.value;
                for (const [i, h] of status.hosts.entries()) {
                    assert.deepStrictEqual([fleet[h.name].updateStatus, fleet[h.name].attempt], ["success", n + 1], `${h.name}: ${JSON.stringify(fleet[h.name])}`);
                    assert.doesNotMatch(fleet[h.name].error, /concluded earlier/);
                    assert.notStrictEqual((await hostTruth(h)).pid, pids[i], `${h.name} was not restarted by the new stack's ${tag} attempt`);
                }
                assert.ok(!res.stdout.includes("nothing to run"), "an attempt of the other stack was taken for this one's");
                await assertAllOn(tag);
            }
            for (const h of status.hosts) assert.strictEqual(a[h.name].attempt, 3, `${h.name}: the first stack's v3 attempt was not its third`);
        } finally {
            await other.destroy();
        }
    });
});
