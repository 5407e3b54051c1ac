// Release directories on real lab hosts: each release prepared beside the running one, the
// app directory switched in one rename, a rollback that is a switch back (no fetch, no
// install), the migration of a plain checkout, the host lock and the verified upload.
// Every claim is checked on the host itself over its own SSH connection.
import * as assert from "assert";
import { readLabStatus, LabStatus } from "../../lab/labStatus";
import { runOnHost } from "../../lab/sshExec";
import { PLAIN_CHECKOUT_SCRIPT } from "../../lab/hostLifecycle";
import { lab } from "./labCli";
import { prepareOver } from "../../lifecycle/hostOps";
import { recheckHost } from "../../lifecycle/recheck";
import { attemptIdFor, healthUrlFor, lifecycleScript, scriptInvocation } from "../../lifecycle/script";
import { withSsh } from "../../lifecycle/ssh";
import { driveUpdate, labApp, targetFor } from "./driveUpdate";
import { hostTruth } from "./hostTruth";

const RELEASES = "/home/rachel/releases";
const REPO = `${RELEASES}/.repo`;

describe("release directories on real lab hosts", function () {
    this.timeout(600000);
    let status: LabStatus;
    const host = (i: number) => status.hosts[i];
    const sha = (tag: string) => status.releases[tag as keyof typeof status.releases] as string;
    const on = async (i: number, cmd: string) => {
        const r = await runOnHost(host(i), cmd);
        assert.strictEqual(r.code, 0, `${host(i).name}: ${cmd}: ${r.stdout}${r.stderr}`);
        return r.stdout.trim();
    };
    /** A fingerprint of every file of a release directory: names, sizes, times, content. */
    const fingerprint = (i: number, commit: string) =>
        on(i, `cd ${RELEASES}/${commit} && find . -path ./node_modules/.cache -prune -o -type f -printf '%p %s %T@\\n' | sort | sha256sum; stat -c %i .`);

    before(() => {
        lab("up", "--hosts", "9");
        status = readLabStatus();
    });
    after(() => {
        lab("down");
    });

    it("a switch: the service only ever runs in the release directory it was started for; the old release's files never change", async () => {
        const app = labApp(status);
        const target = targetFor(status, host(0), app);
        const old = await fingerprint(0, sha("v1"));
        // Sample the service's process and its cwd on the host while the update runs.
        const sampling = runOnHost(host(0),
            `for i in $(seq 1 120); do p=$(systemctl show -p MainPID --value rachel8); c=$(readlink /proc/$p/cwd 2>/dev/null); ` +
            `[ -n "$c" ] && echo "$p $c $(git -C "$c" rev-parse HEAD 2>/dev/null)"; sleep 0.1; done`, { timeoutMs: 60000 });
        const r = await driveUpdate(target, app, sha("v2"), 1);
        assert.strictEqual(r.outcome?.updateStatus, "success", JSON.stringify(r.outcome));
        const samples = (await sampling).stdout.trim().split("\n").map((l) => l.split(" "));
        const pids = new Map<string, string>();
        for (const [pid, cwd, head] of samples) {
            assert.match(cwd, new RegExp(`^${RELEASES}/[0-9a-f]{40}$`), `process ${pid} ran in ${cwd}, not a release directory`);
            assert.strictEqual(head, cwd.split("/").pop(), `process ${pid} ran in ${cwd}, whose HEAD is ${head}`);
            assert.strictEqual(pids.get(pid) ?? cwd, cwd, `process ${pid} changed its tree`);
            pids.set(pid, cwd);
        }
        assert.deepStrictEqual([...new Set(pids.values())], [`${RELEASES}/${sha("v1")}`, `${RELEASES}/${sha("v2")}`], "not one process per release, v1 then v2");
        assert.strictEqual(await fingerprint(0, sha("v1")), old, "a file of the previous release changed during the update");
        const t = await hostTruth(host(0));
        assert.deepStrictEqual([t.release, t.cwd, t.head], [`${RELEASES}/${sha("v2")}`, `${RELEASES}/${sha("v2")}`, sha("v2")]);
        // A later prepare, while v2 serves, leaves v2's files as they are and the service as it is.
        const running = await fingerprint(0, sha("v2"));
        const out = await withSsh(target, (exec) => prepareOver(exec, app, sha("v3"), attemptIdFor(sha("v3"), 2)));
        assert.doesNotMatch(out, /FAILED/, out);
        assert.strictEqual(await fingerprint(0, sha("v2")), running, "a file of the running release changed during a later prepare");
        const after = await hostTruth(host(0));
        assert.deepStrictEqual([after.pid, after.release], [t.pid, t.release], "the prepare restarted the service or moved the app directory");
        assert.strictEqual(await on(0, `git -C ${RELEASES}/${sha("v3")} rev-parse HEAD`), sha("v3"), "the prepared release is not checked out");
    });

    for (const [i, what, arrange, undo, why] of [
        // Every lab release is a tag fetched at provisioning: forget v2 first, as a VPS that never saw it.
        [1, "an unreachable git remote", `git -C ${REPO} remote set-url origin /nonexistent/rachel8.git && ` +
            `git -C ${REPO} for-each-ref --format='delete %(refname)' refs/tags refs/remotes | git -C ${REPO} update-ref --stdin && ` +
            `git -C ${REPO} reflog expire --expire=now --all && git -C ${REPO} gc --quiet --prune=now && ! git -C ${REPO} cat-file -e ${"$V2"}`,
            `git -C ${REPO} remote set-url origin ${"$ORIGIN"}`, /fetch failed \(exit 1\): .*commit [0-9a-f]{40} is not in origin \(\/nonexistent\/rachel8\.git\)/],
        [2, "a full disk", "fault", "fault", /(build|fetch|install) failed \(exit \d+\): .*(No space left on device|no space)/i],
    ] as const) {
        it(`${what} fails in prepare: the service keeps its PID and its release, no restart, the host is reported failed with the cause`, async () => {
            const app = labApp(status);
            const before = await hostTruth(host(i));
            if (arrange === "fault") lab("fault", "disk-full", "--host", host(i).name);
            else await on(i, arrange.replace("$V2", sha("v2")));
            try {
                const r = await driveUpdate(targetFor(status, host(i), app), app, sha("v2"), 1);
                assert.strictEqual(r.outcome?.updateStatus, "failed", JSON.stringify(r.outcome));
                assert.match(r.outcome!.error, /^prepare failed before any switch: /);
                assert.match(r.outcome!.error, why);
                assert.match(r.outcome!.error, /the service was not touched/);
            } finally {
                if (undo === "fault") lab("fault", "disk-full", "--host", host(i).name, "--off");
                else await on(i, undo.replace("$ORIGIN", status.repoUrl));
            }
            const t = await hostTruth(host(i));
            assert.deepStrictEqual([t.pid, t.release, t.cwd, t.head, t.active, t.marker], [before.pid, before.release, before.cwd, sha("v1"), "active", "no-marker"],
                "the service was restarted, moved or left updating");
        });
    }

    for (const [i, tag, why] of [[3, "crash-start", /verify failed/], [4, "bad-health", /health check/]] as const) {
        it(`rollback after ${tag} is a switch back: with the git remote unreachable it ends on the previous release, active, verified, its directory untouched`, async () => {
            const app = labApp(status);
            const target = targetFor(status, host(i), app);
            const attemptId = attemptIdFor(sha(tag), 1);
            // Prepare while the remote answers, then take it away for the switch and the rollback.
            await withSsh(target, (exec) => prepareOver(exec, app, sha(tag), attemptId));
            const previous = await fingerprint(i, sha("v1"));
            await on(i, `git -C ${REPO} remote set-url origin /nonexistent/rachel8.git`);
            try {
                const r = await driveUpdate(target, app, sha(tag), 1);
                assert.strictEqual(r.outcome?.updateStatus, "rolled_back", JSON.stringify(r.outcome));
                assert.match(r.outcome!.error, why);
                assert.ok(r.outcome!.error.endsWith(`rolled back to ${sha("v1")}`), r.outcome!.error);
            } finally {
                await on(i, `git -C ${REPO} remote set-url origin ${status.repoUrl}`);
            }
            // Same files and the same directory inode: not rebuilt, so nothing was installed.
            assert.strictEqual(await fingerprint(i, sha("v1")), previous, "the previous release was rebuilt or reinstalled by the rollback");
            const t = await hostTruth(host(i));
            assert.deepStrictEqual([t.head, t.active, t.marker, t.release, t.cwd], [sha("v1"), "active", "no-marker", `${RELEASES}/${sha("v1")}`, `${RELEASES}/${sha("v1")}`]);
            assert.ok(t.health.body.includes(sha("v1")), t.health.body);
            const verified = await on(i, "cut -d' ' -f1 ~/.rachel-fleet/verified");
            assert.strictEqual(verified, sha("v1"), "the rollback's verify did not record the previous release");
        });
    }

    it("a plain checkout (the old layout) migrates on its first update, and the rollback of that update returns it to what it ran", async () => {
        for (const i of [5, 6]) await on(i, PLAIN_CHECKOUT_SCRIPT(status.repoUrl, sha("v1")));
        const app = labApp(status);
        const plain = await hostTruth(host(6));
        assert.strictEqual(plain.cwd, "/home/rachel/rachel", "the fixture is not a plain checkout");
        const good = await driveUpdate(targetFor(status, host(5), app), app, sha("v2"), 1);
        assert.strictEqual(good.outcome?.updateStatus, "success", JSON.stringify(good.outcome));
        assert.strictEqual(await on(5, "stat -c %F /home/rachel/rachel"), "symbolic link");
        assert.strictEqual(await on(5, `git -C ${RELEASES}/${sha("v1")} rev-parse HEAD`), sha("v1"), "the old checkout was not kept as v1's release");
        const bad = await driveUpdate(targetFor(status, host(6), app), app, sha("crash-start"), 1);
        assert.strictEqual(bad.outcome?.updateStatus, "rolled_back", JSON.stringify(bad.outcome));
        const t = await hostTruth(host(6));
        assert.deepStrictEqual([t.head, t.active, t.release, t.cwd], [sha("v1"), "active", `${RELEASES}/${sha("v1")}`, `${RELEASES}/${sha("v1")}`]);
        // What it ran is the very tree it had: the migrated checkout, with its own .git directory.
        assert.strictEqual(await on(6, `stat -c %F ${RELEASES}/${sha("v1")}/.git`), "directory");
    });

    it("keeps keepReleases release directories, never the current or the previous one", async () => {
        const app = labApp(status, { keepReleases: 2 });
        const target = targetFor(status, host(7), app);
        for (const [n, tag] of ["v2", "v3", "v2", "install-10s"].entries()) {
            const r = await driveUpdate(target, app, sha(tag), 30 + n);
            assert.strictEqual(r.outcome?.updateStatus, "success", `${tag}: ${JSON.stringify(r.outcome)}`);
        }
        const dirs = (await on(7, `ls -1 ${RELEASES}`)).split("\n").sort();
        assert.deepStrictEqual(dirs, [sha("install-10s"), sha("v2")].sort(), "not the current and the previous release");
        assert.strictEqual(await on(7, `git -C ${REPO} worktree list --porcelain | grep -c '^worktree ${RELEASES}/[0-9a-f]'`), "2", "a pruned worktree is still registered");
    });

    it("one lock per host: the re-check does not read a VPS while another operation holds its lock, and says so", async () => {
        const app = labApp(status);
        const holder = runOnHost(host(8), "exec 9>>~/.rachel-fleet/lock; flock 9; echo 'test holder' > ~/.rachel-fleet/lock.holder; sleep 14", { timeoutMs: 30000 });
        await new Promise((r) => setTimeout(r, 1500));
        const reading = await recheckHost(targetFor(status, host(8), app), app, healthUrlFor(app, host(8).host));
        assert.strictEqual(reading.reachable, false);
        assert.match(reading.reason, /another fleet operation holds this VPS's lock \(test holder\): not read, so not judged/);
        await holder;
        const free = await recheckHost(targetFor(status, host(8), app), app, healthUrlFor(app, host(8).host));
        assert.deepStrictEqual([free.reachable, free.head], [true, sha("v1")], free.reason);
    });

    it("a lifecycle script cut in transit is refused and never installed; the scripts already there stay in use", async () => {
        const app = labApp(status);
        const target = targetFor(status, host(8), app);
        const installed = lifecycleScript(app);
        const first = await withSsh(target, (exec) => exec(scriptInvocation(installed, ["readback"]).command, { stdin: installed.text }));
        assert.strictEqual(first.code, 0, first.stdout + first.stderr);
        const other = lifecycleScript(labApp(status, { keepReleases: 9 }));
        const { command } = scriptInvocation(other, ["readback"]);
        const r = await withSsh(target, (exec) => exec(command, { stdin: other.text.slice(0, Math.floor(other.text.length / 2)) }));
        assert.strictEqual(r.code, 65, r.stdout + r.stderr);
        assert.match(r.stderr, /the lifecycle script arrived incomplete \(sha256 mismatch\); not installed, nothing ran/);
        const files = await on(8, "ls ~/.rachel-fleet/bin/");
        assert.ok(!files.includes(other.path.split("/").pop()!), `a cut upload was installed: ${files}`);
        assert.ok(files.includes(installed.path.split("/").pop()!), `the script in use is gone: ${files}`);
        const again = await withSsh(target, (exec) => exec(scriptInvocation(installed, ["readback"]).command, { stdin: installed.text }));
        assert.match(again.stdout, new RegExp(`^head=${sha("v1")}$`, "m"));
    });
});
