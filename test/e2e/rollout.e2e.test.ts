// End to end: the real Pulumi engine (CLI, language host, dynamic providers) runs
// this program against a 10-host lab, stage by stage. Every claim is checked on
// the hosts themselves over SSH, not only through the stack's outputs.
import * as assert from "assert";
import * as fs from "fs";
import { spawn, spawnSync } from "child_process";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { LabHost, LabStatus } from "../../lab/labStatus";
import { runOnHost } from "../../lab/sshExec";
import { cohortFor } from "../../stages/cohort";
import { HostTruth, hostTruth } from "../lab/hostTruth";
import { TestStack, labStackSuite, opsByHost, runLog } from "./stackHarness";
import { endStackProcesses } from "../../lab/labProject";
import { lab } from "../lab/labCli";
import { VERSION_TYPE } from "../../config/resourceTypes";


describe("rollouts under the real Pulumi engine (10-host lab)", function () {
    this.timeout(1800000);
    let status: LabStatus;
    let t: TestStack;
    let stack: Stack;
    const names = () => status.hosts.map((h) => h.name);
    const sha = (tag: string) => (status.releases as Record<string, string>)[tag];
    const byName = (n: string) => status.hosts.find((h) => h.name === n)!;
    const truths = async () => Object.fromEntries(await Promise.all(status.hosts.map(async (h) => [h.name, await hostTruth(h)] as const))) as Record<string, HostTruth>;

    const stage = async (tag: string, percent: number, extra: Record<string, unknown> = {}) => {
        t.configure({ targetCommit: sha(tag), rolloutPercent: percent, ...extra });
        const events: EngineEvent[] = [];
        const res = await stack.up({ onEvent: (e) => events.push(e), onOutput: runLog.write });
        return { res, events };
    };
    /** Per host, the operations a preview lists; `all` has every operation it lists, whatever the resource. */
    const previewOps = async () => {
        const events: EngineEvent[] = [];
        await stack.preview({ onEvent: (e) => events.push(e) });
        const all = events.map((e) => e.resourcePreEvent?.metadata).filter((m) => m && m.op !== "same" && m.op !== "read").map((m) => `${m!.op} ${m!.urn.split("::").pop()}`);
        return Object.assign(opsByHost(events, names()), { all });
    };
    /** The five version fields per VPS, as recorded in the exported stack state. */
    const recordedState = async () => {
        const d = await stack.exportStack();
        const out: Record<string, any> = {};
        for (const r of d.deployment.resources ?? []) {
            if (r.type === VERSION_TYPE) {
                out[r.outputs.spec.hostName] = r.outputs;
            }
        }
        return out;
    };
    const assertFleet = async (tag: string, cohort: string[], others: Record<string, string>) => {
        const now = await truths();
        for (const n of names()) {
            const expected = cohort.includes(n) ? sha(tag) : others[n];
            assert.strictEqual(now[n].head, expected, `${n} runs ${now[n].head}, expected ${expected}`);
            assert.strictEqual(now[n].active, "active", `${n} is ${now[n].active}`);
            assert.strictEqual(now[n].marker, "no-marker", `${n} still has its update marker`);
        }
        return now;
    };

    labStackSuite("e2e", 10, (st) => ({ targetCommit: st.releases.v2, rolloutPercent: 10 }), (st, ts) => ((status = st), (t = ts), (stack = ts.stack)));

    it("1-3. preview shows exactly the cohort; up 10 → 50 → 100 moves exactly the cohort; a repeated up touches nothing", async () => {
        let onV1 = Object.fromEntries(names().map((n) => [n, sha("v1")]));
        const ops = await previewOps();
        const canaries = cohortFor(10, names(), sha("v2"));
        assert.strictEqual(canaries.length, 1);
        for (const n of names()) {
            assert.strictEqual(ops[n].length > 0, canaries.includes(n), `${n}: preview ops ${JSON.stringify(ops[n])}`);
        }
        for (const percent of [10, 50, 100]) {
            const cohort = cohortFor(percent, names(), sha("v2"));
            const { res } = await stage("v2", percent);
            const before = await assertFleet("v2", cohort, onV1);
            const state = await recordedState();
            for (const n of cohort) {
                const rec = res.outputs.fleet.value[n];
                for (const r of [rec, state[n]]) {
                    assert.deepStrictEqual([r.currentVersion, r.targetVersion, r.updateStatus], [sha("v2"), sha("v2"), "success"], `${n}: ${JSON.stringify(r)}`);
                    assert.strictEqual(r.previousVersion, sha("v1"));
                    assert.ok(!Number.isNaN(Date.parse(r.lastUpdateAt)));
                }
            }
            assert.deepStrictEqual([res.outputs.rollout.value.percent, res.outputs.rollout.value.halted], [percent, false]);
            // 3. the same stage again: preview lists no operation at all, and no host is touched (same main PID everywhere).
            if (percent === 10) {
                assert.deepStrictEqual((await previewOps()).all, [], "a preview of a stage already done must list nothing");
                const again = await stage("v2", 10);
                assert.deepStrictEqual(again.res.outputs.rollout.value.attempted, 0);
                const after = await truths();
                for (const n of names()) {
                    assert.strictEqual(after[n].pid, before[n].pid, `${n} was restarted by a repeated up`);
                }
            }
        }
        onV1 = {};
    });

    it("4. a bad release halts at the canary, rolls it back, refuses to advance, and a fix forward proceeds", async () => {
        const canary = cohortFor(10, names(), sha("crash-start"));
        const v2 = Object.fromEntries(names().map((n) => [n, sha("v2")]));
        await assert.rejects(stage("crash-start", 10), (e: Error) => {
            assert.match(e.message, /ROLLOUT HALTED/);
            assert.ok(e.message.includes(canary[0]), "the failed host is named");
            assert.match(e.message, /failure rate 100%/);
            return true;
        });
        await assertFleet("v2", [], v2);
        assert.strictEqual((await recordedState())[canary[0]].updateStatus, "rolled_back");
        const before = await truths();
        await assert.rejects(stage("crash-start", 50), /halted.*Refusing to advance to 50%.*no host was touched/s);
        const after = await truths();
        for (const n of names()) {
            assert.deepStrictEqual([after[n].head, after[n].pid], [before[n].head, before[n].pid], `${n} was touched by a refused stage`);
        }
        const fixed = await stage("v3", 10);
        assert.strictEqual(fixed.res.outputs.rollout.value.halted, false);
        await assertFleet("v3", cohortFor(10, names(), sha("v3")), v2);
    });

    it("4a. the halt is recorded even when the verdict (and the stack outputs) arrive late: the next stage is still refused", async () => {
        const canary = cohortFor(10, names(), sha("bad-install"));
        (stack.workspace as LocalWorkspace).envVars.RACHEL_FLEET_TEST_VERDICT_DELAY_MS = "6000";
        try {
            await assert.rejects(stage("bad-install", 10), /ROLLOUT HALTED/);
        } finally {
            delete (stack.workspace as LocalWorkspace).envVars.RACHEL_FLEET_TEST_VERDICT_DELAY_MS;
        }
        assert.strictEqual((await stack.outputs()).rollout.value.halted, true, "the halt did not reach the stack outputs");
        await assert.rejects(stage("bad-install", 50), /halted.*Refusing to advance to 50%.*no host was touched/s);
        assert.strictEqual((await truths())[canary[0]].head, sha("v2"), "the canary was not rolled back");
        await stage("v3", 10);
    });

    it("4b. a change to the provider's code takes effect on the next refresh of a held host (no code is frozen in state)", async () => {
        const held = names().find((n) => !cohortFor(10, names(), sha("v3")).includes(n))!;
        const file = `${t.dir}/providers/versionProvider.ts`;
        const original = fs.readFileSync(file, "utf8");
        const marked = original.replace("serviceState: r.serviceState,", 'serviceState: `${r.serviceState} (read by the changed provider)`,');
        assert.notStrictEqual(marked, original, "the provider code to change was not found");
        fs.writeFileSync(file, marked);
        try {
            await stack.refresh();
        } finally {
            fs.writeFileSync(file, original);
        }
        assert.strictEqual((await recordedState())[held].serviceState, "active (read by the changed provider)");
        const d = (await stack.exportStack()).deployment;
        for (const r of d.resources ?? []) {
            const code = JSON.stringify(r.inputs?.__provider ?? "");
            assert.ok(code.length <= 2048, `${r.urn} carries ${code.length} bytes of provider code`);
        }
        await stack.refresh();
    });

    it("5-6. at 100%, one unreachable host of ten: up succeeds with a warning, the next up retries it; at most maxParallel update at once", async () => {
        const cohort = cohortFor(100, names(), sha("v3"));
        const down = cohortFor(10, names(), sha("v3")).includes(cohort[9]) ? cohort[8] : cohort[9];
        lab("fault", "unreachable", "--host", down);
        let res;
        try {
            ({ res } = await stage("v3", 100, { maxParallel: 2 }));
        } finally {
            lab("fault", "unreachable", "--host", down, "--off");
        }
        const r = res.outputs.rollout.value;
        assert.deepStrictEqual([r.halted, r.failed, r.failedHosts], [false, 1, [down]]);
        const warning = res.stdout.split("\n").find((l) => l.includes(`${down}: failed: `)) ?? "";
        assert.match(warning, /unreachable \(ECONNREFUSED\)/, `the failed host is warned about in a sentence: ${warning}`);
        assert.match(res.outputs.fleet.value[down].error, /rachel@127\.0\.1\.\d+:22: unreachable \(ECONNREFUSED\)/);
        assert.ok(!res.stdout.includes("[object Object]"), "an error reached the operator as [object Object]");
        // 6. concurrency of the switches (what maxParallel limits; prepares run ahead), measured on
        // the hosts from each attempt's switch start and finish stamps.
        const spans: [number, number][] = [];
        for (const h of status.hosts.filter((x) => x.name !== down)) {
            const s = await runOnHost(h, `d=$(ls -1dt ~/.rachel-fleet/attempts/${sha("v3").slice(0, 12)}-* | head -1); cut -d' ' -f1 "$d/time-switch"; cat "$d/finished"`);
            const [a, b] = s.stdout.trim().split("\n").map(Number);
            if (a && b && a > Date.now() / 1000 - 600) {
                spans.push([a, b]);
            }
        }
        const maxOverlap = Math.max(...spans.map(([a]) => spans.filter(([s, e]) => s <= a && a < e).length));
        assert.ok(spans.length >= 8, `only ${spans.length} attempts measured`);
        assert.strictEqual(maxOverlap, 2, `${maxOverlap} hosts updated at once with maxParallel 2: at most, and when the fleet allows exactly, that many`);
        const retry = await stage("v3", 100, { maxParallel: 5 });
        assert.deepStrictEqual([retry.res.outputs.rollout.value.attempted, retry.res.outputs.rollout.value.failed], [1, 0]);
        await assertFleet("v3", names(), {});
    });

    it("7. a second concurrent up on the stack is refused by the stack lock, and nothing is lost", async () => {
        t.configure({ targetCommit: sha("v2"), rolloutPercent: 10 });
        const first = stack.up();
        await new Promise((r) => setTimeout(r, 1500));
        await assert.rejects(stack.up(), /locked/);
        const res = await first;
        assert.strictEqual(res.outputs.rollout.value.succeeded, 1);
        await assertFleet("v2", cohortFor(10, names(), sha("v2")), Object.fromEntries(names().map((n) => [n, sha("v3")])));
    });

    /** The stack's resources and pending operations, as the backend holds them now. */
    const storedState = async () => {
        const d = (await stack.exportStack()).deployment;
        return JSON.stringify([d.resources ?? [], d.pending_operations ?? []]);
    };
    /**
     * Starts a 100 % stage of `tag`, kills its whole process group mid-update, and brings the
     * stack back with the CLI. Returns whether the killed run had changed the stored state.
     */
    const killMidStageThenUpAgain = async (tag: string, extraEnv: Record<string, string>): Promise<boolean> => {
        t.configure({ targetCommit: sha(tag), rolloutPercent: 100, maxParallel: 5 });
        const stateBefore = await storedState();
        const env = { ...process.env, ...t.env, ...extraEnv };
        const up = spawn("pulumi", ["up", "--yes", "--skip-preview", "--stack", "e2e"], { cwd: t.dir, env, detached: true, stdio: "ignore" });
        // Wait until some host is really mid-update, then kill the whole process group.
        const deadline = Date.now() + 120000;
        while (Date.now() < deadline) {
            assert.strictEqual(up.exitCode, null, "pulumi up ended before it could be killed mid-stage");
            const marks = await Promise.all(status.hosts.map((h) => runOnHost(h, "[ -e ~/.rachel-fleet/updating ] && echo y || echo n")));
            if (marks.some((m) => m.stdout.trim() === "y")) {
                break;
            }
            await new Promise((r) => setTimeout(r, 300));
        }
        process.kill(-up.pid!, "SIGKILL");
        if (up.exitCode === null && up.signalCode === null) {
            await new Promise((r) => up.once("exit", r));
        }
        // The language host, the program and the provider plugins are not in the killed
        // process group: end them too, as an operator's `pkill` would.
        endStackProcesses(t.home);
        const killedRunWroteState = (await storedState()) !== stateBefore;
        const cli = (...args: string[]) => spawnSync("pulumi", [...args, "--stack", "e2e"], { cwd: t.dir, env, encoding: "utf8" });
        const cancel = cli("cancel", "--yes");
        process.stdout.write(`pulumi cancel: exit ${cancel.status} ${cancel.stdout}${cancel.stderr}\n`);
        let again = cli("up", "--yes", "--skip-preview");
        if (again.status !== 0 && /pending operations|interrupted/.test(again.stdout + again.stderr)) {
            const refresh = cli("refresh", "--yes", "--clear-pending-creates", "--skip-preview");
            assert.strictEqual(refresh.status, 0, refresh.stdout + refresh.stderr);
            again = cli("up", "--yes", "--skip-preview");
        }
        assert.strictEqual(again.status, 0, again.stdout + again.stderr);
        await assertFleet(tag, names(), {});
        const pending = (await stack.exportStack()).deployment.pending_operations ?? [];
        assert.deepStrictEqual(pending, [], "the converged stack still lists pending operations");
        return killedRunWroteState;
    };

    it("8. kill -9 of an up in the middle of a stage: after pulumi cancel and up again the fleet converges", async () => {
        // With checkpoints, the killed run had already written its progress (and pending operations).
        assert.strictEqual(await killMidStageThenUpAgain("v2", {}), true, "the killed up left the stored state as it was: it was not killed mid-stage");
    });

    it("8b. the same with PULUMI_SKIP_CHECKPOINTS (the killed run left no state at all): up again converges", async () => {
        // The state is the one from before the killed up; the next up re-runs the same attempts,
        // whose guarded steps skip what is already done on each host.
        assert.strictEqual(await killMidStageThenUpAgain("v3", { PULUMI_SKIP_CHECKPOINTS: "true" }), false,
            "the killed up wrote state although PULUMI_SKIP_CHECKPOINTS was set");
        const rec = await recordedState();
        for (const n of names()) {
            assert.deepStrictEqual([rec[n]?.currentVersion, rec[n]?.updateStatus], [sha("v3"), "success"], `${n}: ${JSON.stringify(rec[n])}`);
        }
    });

    it("9. refresh reads real versions: a host moved by hand shows as drift in state, and the next up of the stage brings it back", async () => {
        const h: LabHost = byName(names()[0]);
        await runOnHost(h, `git -C /home/rachel/rachel -c advice.detachedHead=false checkout --quiet --detach ${sha("v1")}`);
        await stack.refresh();
        const rec = (await recordedState())[h.name];
        assert.strictEqual(rec.currentVersion, sha("v1"));
        assert.match(rec.error, /drift/);
        // The same stage again: the re-check finds it and updates it as a new attempt, saying why.
        const attempt = (await stack.outputs()).fleet.value[h.name].attempt;
        const { res } = await stage("v3", 100);
        assert.deepStrictEqual(res.outputs.changing.value, [h.name]);
        assert.strictEqual(res.outputs.fleet.value[h.name].attempt, attempt + 1);
        assert.match(res.outputs.rollout.value.recheck[h.name], new RegExp(`runs ${sha("v1").slice(0, 12)}, not ${sha("v3").slice(0, 12)} \\(moved since its verify\\)`));
        assert.ok(res.stdout.includes(`${h.name}: the ledger has it on ${sha("v3").slice(0, 12)}, but it runs ${sha("v1").slice(0, 12)}`), "the operator is told why");
        await assertFleet("v3", names(), {});
    });
});
