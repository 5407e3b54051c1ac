// A smoke run of the bench (3 hosts, tiny inventories), so the bench cannot rot.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { REPO_ROOT } from "../../lab/paths";

describe("npm run bench -- --smoke", function () {
    this.timeout(900000);

    it("measures a stage against the plain-SSH floor, verify against the settle window, and preview/no-op scaling", () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "rachel-fleet-bench-smoke-"));
        try {
            const r = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(REPO_ROOT, "bench", "run.ts"), "--smoke", "--out", out], { cwd: REPO_ROOT, encoding: "utf8" });
            assert.strictEqual(r.status, 0, `bench failed:\n${r.stdout}\n${r.stderr.slice(-4000)}`);
            const res = JSON.parse(fs.readFileSync(path.join(out, "latest.json"), "utf8"));
            assert.ok(res.stage.length >= 1 && res.stage.every((s: any) => Number.isFinite(s.ratio) && s.ratio > 0), JSON.stringify(res.stage));
            // Verify waits out the settle window, so it can never be faster than it.
            assert.ok(res.verify.every((v: any) => v.ratio >= 1), JSON.stringify(res.verify));
            assert.deepStrictEqual(res.parallel.map((p: any) => p.maxParallel), [1, 3]);
            // maxParallel means what it says: that many hosts were seen updating at once (3 hosts, pool of 3).
            assert.deepStrictEqual(res.parallel.map((p: any) => p.observedPeak), [1, 3], JSON.stringify(res.parallel));
            // Small state, no frozen code, few logins: the figures the bench reports per host.
            for (const st of res.stage) {
                assert.ok(st.bytesPerHost > 0 && st.maxProviderCodeBytes > 0 && st.maxProviderCodeBytes <= 2048, JSON.stringify(st));
                // With ssh2 the version record's judgement runs over the update step's connection
                // (fewer than three logins: read and prepare; step and record); remote.Command keeps
                // its connection to itself (three). The count is read from each host's journal right
                // after the run, which a busy machine may not have written yet: at least one login
                // per host is all a lower bound can ask.
                const most = st.runner === "ssh2" ? 2 : 3;
                assert.ok(st.loginsPerHost >= 1 && st.loginsPerHost <= most,
                    `each updated host should see at most ${most} SSH logins (read and prepare; ${st.runner === "ssh2" ? "step and record over one connection" : "step; record"}): ${st.loginsPerHost}`);
            }
            // The re-check's price: a repeated stage re-reads every host and updates none.
            assert.ok(res.recheck.length >= 1 && res.recheck.every((x: any) => x.hosts === 3 && x.floorSeconds > 0 && x.pulumiSeconds > x.floorSeconds), JSON.stringify(res.recheck));
            assert.match(r.stdout, /recheck +3 hosts: the stage repeated \(each host re-checked, none updated\) [0-9.]+s/);
            assert.strictEqual(res.runnerState.length, 1, JSON.stringify(res.runnerState));
            assert.deepStrictEqual(res.scale.map((s: any) => s.hosts), [5, 10]);
            // Every host is held in a no-op up: no resource may change.
            assert.ok(res.scale.every((s: any) => s.noopChanges === "none"), `a no-op up changed resources: ${JSON.stringify(res.scale.map((s: any) => s.noopChangedResources))}`);
            assert.ok(Number.isFinite(res.growth.previewTime));
            assert.ok(res.scale.every((s: any) => s.changeSeconds > 0), JSON.stringify(res.scale));
            assert.match(r.stdout, /scale +5 hosts: preview [0-9.]+s [0-9]+MB \(a config mistake: [0-9.]+s = [0-9.]+×\)/);
            assert.ok(res.scale[1].stateBytes > res.scale[0].stateBytes, `state did not grow with the fleet: ${JSON.stringify(res.scale.map((s: any) => s.stateBytes))}`);
            assert.match(fs.readFileSync(path.join(out, "latest.svg"), "utf8"), /^<svg/);
            assert.match(fs.readFileSync(path.join(out, "latest-scale.svg"), "utf8"), /^<svg.*changing stage/s);
            assert.match(r.stdout, /stage +3 hosts \((ssh2|command)\): pulumi .* = [0-9.]+×; state [0-9.]+ KiB per host/);
            // Release directories: a rollback is a switch back, cheaper than one done in place; prepares run ahead.
            const rb = res.rollback;
            assert.ok(rb.hosts === 3 && rb.rollbackSeconds > 0 && rb.restartVerifySeconds > 0 && rb.rollbackInPlaceSeconds > rb.rollbackSeconds, JSON.stringify(rb));
            assert.ok(rb.interruptionSeconds >= 0 && rb.interruptionSeconds < rb.restartVerifySeconds, `the service was down longer than its switch: ${JSON.stringify(rb)}`);
            assert.match(r.stdout, /rollback 3 hosts: [0-9.]+s \/ one switch\+restart\+verify [0-9.]+s = [0-9.]+×; in place \(checkout and install added\) [0-9.]+s/);
            const si = res.slowInstall;
            assert.ok(si.hosts === 3 && si.floorInSlotsSeconds >= 10 && si.floorAheadSeconds >= 10 && si.pulumiSeconds >= 10, `the ~10 s install did not run: ${JSON.stringify(si)}`);
            assert.ok(si.pulumiCpuSecondsPerHost > 0 && si.floorCpuSecondsPerHost > 0, JSON.stringify(si));
            assert.match(r.stdout, /start +3 hosts: pulumi up to the first host's first step [0-9.]+s; CPU per updated host: pulumi [0-9.]+s, floor [0-9.]+s/);
        } finally {
            fs.rmSync(out, { recursive: true, force: true });
        }
    });
});
