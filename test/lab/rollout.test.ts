// The program's own pieces (the component's command strings and the dynamic
// provider's functions) against real lab hosts, each host checked independently
// over SSH afterwards: HEAD, systemctl is-active, the health endpoint, the marker.
import * as assert from "assert";
import { readLabStatus, LabStatus } from "../../lab/labStatus";
import { runOnHost } from "../../lab/sshExec";
import { lab } from "./labCli";
import { readHost } from "../../lifecycle/hostOps";
import { SshError } from "../../lifecycle/ssh";
import { driveUpdate, labApp, targetFor } from "./driveUpdate";
import { hostTruth } from "./hostTruth";


describe("update and rollback on real lab hosts", function () {
    this.timeout(600000);
    let status: LabStatus;
    const host = (i: number) => status.hosts[i];
    const sha = (tag: string) => status.releases[tag as keyof typeof status.releases] as string;

    before(() => {
        lab("up", "--hosts", "10");
        status = readLabStatus();
    });
    after(() => {
        lab("down");
    });

    it("a good release: the host runs the new commit, active and healthy, state fields right, marker gone", async () => {
        const h = host(0);
        const app = labApp(status);
        const r = await driveUpdate(targetFor(status, h, app), app, sha("v2"), 1);
        assert.strictEqual(r.outcome?.updateStatus, "success", r.outcome?.error);
        assert.deepStrictEqual([r.outcome!.currentVersion, r.outcome!.previousVersion], [sha("v2"), sha("v1")]);
        assert.ok(Date.now() - Date.parse(r.outcome!.lastUpdateAt) < 60000);
        const t = await hostTruth(h);
        assert.deepStrictEqual([t.head, t.active, t.marker], [sha("v2"), "active", "no-marker"]);
        assert.strictEqual(t.health.status, 200);
        assert.ok(t.health.body.includes(sha("v2")), t.health.body);
    });

    for (const [i, tag, why] of [
        [2, "crash-start", /verify failed|failed after restart|not active/],
        [3, "crash-late", /settle window/],
        [4, "bad-health", /health check/],
    ] as const) {
        it(`${tag}: the host is switched back to its previous release, active, with a useful error, marker gone`, async () => {
            const h = host(i);
            const app = labApp(status);
            const r = await driveUpdate(targetFor(status, h, app), app, sha(tag), 1);
            assert.strictEqual(r.outcome?.updateStatus, "rolled_back", JSON.stringify(r.outcome));
            assert.match(r.outcome!.error, why);
            assert.ok(r.outcome!.error.includes(`rolled back to ${sha("v1")}`), r.outcome!.error);
            assert.deepStrictEqual([r.outcome!.currentVersion, r.outcome!.previousVersion], [sha("v1"), sha("v1")]);
            const t = await hostTruth(h);
            assert.deepStrictEqual([t.head, t.active, t.marker], [sha("v1"), "active", "no-marker"]);
            assert.ok(t.health.body.includes(sha("v1")), t.health.body);
        });
    }

    // A failed prepare touched nothing the service uses: no restart, no rollback, reported failed.
    for (const [i, tag, over, why] of [
        [1, "bad-install", {}, /prepare failed before any switch: install failed \(exit 1\).*rachel8-native/],
        [5, "slow-install", { installTimeout: 5 }, /prepare failed before any switch: install failed \(exit 124\).*timed out after 5s/],
    ] as const) {
        it(`${tag}: fails in prepare; the service keeps its PID and its release, the host is reported failed with the cause`, async () => {
            const h = host(i);
            const app = labApp(status, over);
            const before = await hostTruth(h);
            const started = Date.now();
            const r = await driveUpdate(targetFor(status, h, app), app, sha(tag), 1);
            assert.strictEqual(r.outcome?.updateStatus, "failed", JSON.stringify(r.outcome));
            assert.match(r.outcome!.error, why);
            assert.match(r.outcome!.error, /the service was not touched/);
            assert.ok(Date.now() - started < 60000, "the install was not killed at its timeout");
            const t = await hostTruth(h);
            assert.deepStrictEqual([t.head, t.active, t.marker, t.pid], [sha("v1"), "active", "no-marker", before.pid], "the service was restarted or moved");
            assert.deepStrictEqual([t.release, t.cwd], [before.release, before.cwd], "the app directory or the process's tree changed");
            const procs = await runOnHost(h, "ps -eo args | grep -c '[s]leep 600' || true");
            assert.strictEqual(procs.stdout.trim(), "0", "the hung install's processes must be killed");
        });
    }

    it("unreachable host: a clear error within the connect timeout, counted as failed", async () => {
        const h = host(6);
        lab("fault", "unreachable", "--host", h.name);
        try {
            const app = labApp(status, { connectTimeout: 3 });
            const started = Date.now();
            const r = await driveUpdate(targetFor(status, h, app), app, sha("v2"), 1);
            assert.strictEqual(r.reading.reachable, false);
            assert.match(r.reading.reason, /unreachable/);
            assert.ok(Date.now() - started < 3000 + 2000, "not within the connect timeout");
            assert.strictEqual(r.stepOutput, undefined, "nothing may run on an unreachable host");
        } finally {
            lab("fault", "unreachable", "--host", h.name, "--off");
        }
        assert.strictEqual((await hostTruth(h)).head, sha("v1"));
    });

    it("host key changed: the connection is refused and nothing runs", async () => {
        const h = host(7);
        lab("fault", "hostkey-changed", "--host", h.name);
        try {
            const app = labApp(status);
            const r = await driveUpdate(targetFor(status, h, app), app, sha("v2"), 1);
            assert.strictEqual(r.reading.reachable, false);
            assert.match(r.reading.reason, /host key does not match/);
            assert.strictEqual(r.stepOutput, undefined, "nothing may run on a host whose key does not match");
        } finally {
            lab("fault", "hostkey-changed", "--host", h.name, "--off");
        }
        const nothing = await runOnHost(h, "ls ~/.rachel-fleet/attempts 2>/dev/null | wc -l");
        assert.strictEqual(nothing.stdout.trim(), "0", "no attempt may have started");
        assert.strictEqual((await hostTruth(h)).head, sha("v1"));
    });

    it("a connection dropped mid-install: the next run of the same attempt converges", async () => {
        const h = host(8);
        const app = labApp(status);
        const target = targetFor(status, h, app);
        lab("fault", "drop-mid-command", "--host", h.name);
        await assert.rejects(driveUpdate(target, app, sha("v2"), 1), (e: Error) => e instanceof SshError && e.kind === "dropped");
        const r = await driveUpdate(target, app, sha("v2"), 1);
        assert.strictEqual(r.outcome?.updateStatus, "success", JSON.stringify(r.outcome));
        const t = await hostTruth(h);
        assert.deepStrictEqual([t.head, t.active, t.marker], [sha("v2"), "active", "no-marker"]);
    });

    it("re-running the same release on an up-to-date host changes nothing on the host", async () => {
        const h = host(9);
        const app = labApp(status);
        const target = targetFor(status, h, app);
        const first = await driveUpdate(target, app, sha("v3"), 1);
        assert.strictEqual(first.outcome?.updateStatus, "success", first.outcome?.error);
        const before = await hostTruth(h);
        const again = await driveUpdate(target, app, sha("v3"), 2);
        assert.strictEqual(again.outcome?.updateStatus, "success");
        assert.match(again.stepOutput ?? "", /nothing to do: already on/, "the second attempt must see the host is already there");
        const after = await hostTruth(h);
        assert.strictEqual(after.pid, before.pid, "the service was restarted");
        assert.deepStrictEqual([after.head, after.active, after.marker], [sha("v3"), "active", "no-marker"]);
    });

    it("going back to a commit the host ran before really moves it (attempts count up per host, as the program numbers them)", async () => {
        const h = host(2);
        const app = labApp(status);
        const target = targetFor(status, h, app);
        for (const [i, tag] of ["v2", "v3", "v2"].entries()) {
            const r = await driveUpdate(target, app, sha(tag), 10 + i);
            assert.strictEqual(r.outcome?.updateStatus, "success", `${tag}: ${JSON.stringify(r.outcome)}`);
            assert.strictEqual((await hostTruth(h)).head, sha(tag));
        }
    });

    it("a concluded attempt is never run again: a re-run changes nothing, and a reused attempt id on a moved host is a failure, not a silent success", async () => {
        const h = host(3);
        const app = labApp(status);
        const target = targetFor(status, h, app);
        const first = await driveUpdate(target, app, sha("v2"), 20);
        assert.strictEqual(first.outcome?.updateStatus, "success", JSON.stringify(first.outcome));
        const pid = (await hostTruth(h)).pid;
        // The same attempt again (what a rotated SSH key makes the step resource do): nothing runs.
        const again = await driveUpdate(target, app, sha("v2"), 20);
        assert.match(again.stepOutput ?? "", /was concluded earlier \(success\): nothing to run/);
        assert.strictEqual(again.outcome?.updateStatus, "success");
        assert.strictEqual((await hostTruth(h)).pid, pid, "a concluded attempt restarted the service");
        // The host moves on; the old attempt id comes back (a lost ledger): reported, not believed.
        assert.strictEqual((await driveUpdate(target, app, sha("v3"), 21)).outcome?.updateStatus, "success");
        const stale = await driveUpdate(target, app, sha("v2"), 20);
        assert.strictEqual(stale.outcome?.updateStatus, "failed");
        assert.match(stale.outcome!.error, /was concluded earlier, but the VPS now runs .*the next up retries it/);
        assert.strictEqual((await hostTruth(h)).head, sha("v3"), "a reused attempt id moved the host");
    });

    it("reads back what a host really runs, so a VPS moved by hand shows as drift", async () => {
        const h = host(0);
        await runOnHost(h, `git -C /home/rachel/rachel -c advice.detachedHead=false checkout --quiet --detach ${sha("v3")}`);
        const app = labApp(status);
        const reading = await readHost(targetFor(status, h, app), app);
        assert.deepStrictEqual([reading.reachable, reading.head], [true, sha("v3")]);
    });

    it("a VPS left on a commit the fleet never verified rolls back to its last verified one, not to that commit", async () => {
        const h = host(4);
        const app = labApp(status);
        const target = targetFor(status, h, app);
        const good = await driveUpdate(target, app, sha("v2"), 1);
        assert.strictEqual(good.outcome?.updateStatus, "success", JSON.stringify(good.outcome));
        // HEAD moved off the verified commit without a verify: by hand, by an interrupted
        // attempt for another release, or by a rollback that failed half-way.
        await runOnHost(h, `git -C /home/rachel/rachel -c advice.detachedHead=false checkout --quiet --detach ${sha("bad-install")}`);
        const r = await driveUpdate(target, app, sha("crash-start"), 1);
        assert.strictEqual(r.outcome?.updateStatus, "rolled_back", JSON.stringify(r.outcome));
        assert.ok(r.outcome!.error.includes(`rolled back to ${sha("v2")}`), r.outcome!.error);
        assert.deepStrictEqual([r.outcome!.currentVersion, r.outcome!.previousVersion], [sha("v2"), sha("v2")]);
        const t = await hostTruth(h);
        assert.deepStrictEqual([t.head, t.active, t.marker], [sha("v2"), "active", "no-marker"]);
        assert.ok(t.health.body.includes(sha("v2")), t.health.body);
    });
});
