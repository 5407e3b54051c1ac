// End to end: the promotion gates under the real Pulumi engine on a 10-host lab. The
// bake refuses an early advance at preview and up; the re-check reads the hosts already
// on the release over their pinned SSH and refuses on each kind of regression; hosts that
// cannot be read count against the threshold. Every claim is checked on the hosts too.
import * as assert from "assert";
import { inHost } from "../../lab/container";
import { LabHost, LabStatus } from "../../lab/labStatus";
import { runOnHost } from "../../lab/sshExec";
import { cohortFor } from "../../stages/cohort";
import { HostTruth, hostTruth } from "../lab/hostTruth";
import { lab } from "../lab/labCli";
import { TestStack, labStackSuite, runLog } from "./stackHarness";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("promotion gates under the real Pulumi engine (10-host lab)", function () {
    this.timeout(1800000);
    let status: LabStatus;
    let t: TestStack;
    const names = () => status.hosts.map((h) => h.name);
    const sha = (tag: string) => (status.releases as Record<string, string>)[tag];
    const host = (n: string): LabHost => status.hosts.find((h) => h.name === n)!;
    const truths = async () => Object.fromEntries(await Promise.all(status.hosts.map(async (h) => [h.name, await hostTruth(h)] as const))) as Record<string, HostTruth>;
    const up = (tag: string, percent: number, extra: Record<string, unknown> = {}) => {
        t.configure({ targetCommit: sha(tag), rolloutPercent: percent, bakeSeconds: 0, ...extra });
        return t.stack.up({ onOutput: runLog.write });
    };
    const preview = (tag: string, percent: number, extra: Record<string, unknown> = {}) => {
        t.configure({ targetCommit: sha(tag), rolloutPercent: percent, bakeSeconds: 0, ...extra });
        return t.stack.preview({ onOutput: runLog.write });
    };
    /** Nothing moved: every host runs what it ran, in the same process, with no marker. */
    const assertUntouched = async (before: Record<string, HostTruth>, why: string) => {
        const now = await truths();
        for (const n of names()) {
            assert.deepStrictEqual([now[n].head, now[n].pid, now[n].marker], [before[n].head, before[n].pid, "no-marker"], `${n} was touched by ${why}`);
        }
    };
    const refusedWith = (...patterns: (RegExp | string)[]) => (e: Error) => {
        for (const p of patterns) {
            typeof p === "string" ? assert.ok(e.message.includes(p), `the refusal lacks "${p}":\n${e.message}`) : assert.match(e.message, p);
        }
        return true;
    };

    labStackSuite("gates", 10, (st) => ({ targetCommit: st.releases.v2, rolloutPercent: 10 }), (st, ts) => ((status = st), (t = ts)));

    it("an early advance is refused at preview and up with the time left; once baked, the canary is re-checked and the stage goes on", async () => {
        // Long enough that a preview and an up (several seconds each) both start within it.
        const bake = { bakeSeconds: 40 };
        const first = await up("v2", 10, bake);
        const [canary] = cohortFor(10, names(), sha("v2"));
        const verifiedAt = Date.parse(first.outputs.fleet.value[canary].lastUpdateAt);
        const before = await truths();
        const early = [/has baked for \d+s since its 10% stage's last verify; rachel-fleet:bakeSeconds asks for 40s before 50% may start/, /no host was touched/, /after \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/];
        await assert.rejects(preview("v2", 50, bake), refusedWith(...early));
        await assert.rejects(up("v2", 50, bake), refusedWith(...early));
        await assertUntouched(before, "a refused early advance");
        await sleep(Math.max(0, verifiedAt + 40_500 - Date.now()));
        const baked = await up("v2", 50, bake);
        assert.match(baked.stdout, /the re-check of release \w{12} before 50%: every host of the 10% stage is still as its verify left it/);
        assert.deepStrictEqual([baked.outputs.rollout.value.percent, baked.outputs.rollout.value.halted], [50, false]);
        assert.strictEqual((await truths())[canary].pid, before[canary].pid, "the re-check restarted the canary");
    });

    it("a stopped service, a commit moved by hand and a restart since verify each refuse the advance, naming host and cause; a retry of the stage brings them back", async () => {
        const cohort = cohortFor(50, names(), sha("v2"));
        const [stopped, moved, restarted] = cohort;
        await inHost(status.labDir, stopped, ["systemctl", "stop", "rachel8"]);
        await runOnHost(host(moved), `git -C /home/rachel/rachel -c advice.detachedHead=false checkout --quiet --detach ${sha("v1")}`);
        await runOnHost(host(restarted), "sudo -n systemctl restart rachel8");
        await sleep(1500);
        const before = await truths();
        const causes = [
            `${stopped} rachel8 is inactive`,
            `${moved} runs ${sha("v1").slice(0, 12)}, not ${sha("v2").slice(0, 12)} (moved since its verify)`,
            `${restarted} rachel8 was restarted since its verify`,
            "A host that regressed after its stage refuses the advance. Refusing to advance to 100%; no host was touched.",
            "retry the 50% stage",
        ];
        await assert.rejects(preview("v2", 100), refusedWith(...causes));
        await assert.rejects(up("v2", 100), refusedWith(...causes));
        await assertUntouched(before, "a refused advance");
        const out = await t.stack.outputs();
        for (const n of [stopped, moved, restarted]) {
            assert.strictEqual(out.fleet.value[n].updateStatus, "failed", n);
            assert.match(out.fleet.value[n].error, /^re-check before 100%: /, n);
        }
        assert.deepStrictEqual([out.rollout.value.percent, out.rollout.value.halted, out.rollout.value.failedHosts], [50, true, [stopped, moved, restarted].sort()]);

        const retry = await up("v2", 50);
        assert.deepStrictEqual([...retry.outputs.changing.value].sort(), [stopped, moved, restarted].sort());
        const now = await truths();
        for (const n of cohort) {
            assert.deepStrictEqual([now[n].head, now[n].active], [sha("v2"), "active"], n);
        }
        const done = await up("v2", 100);
        assert.deepStrictEqual([done.outputs.rollout.value.percent, done.outputs.rollout.value.halted], [100, false]);
    });

    it("a release that dies a while after a passing verify clears its stage but is refused at the next", async () => {
        // settleSeconds 1 (and no minimum uptime): crash-late's verify passes; it exits about 4 s after start.
        const s10 = await up("crash-late", 10, { settleSeconds: 1 });
        const [canary] = cohortFor(10, names(), sha("crash-late"));
        assert.strictEqual(s10.outputs.fleet.value[canary].updateStatus, "success");
        await sleep(6000);
        await assert.rejects(up("crash-late", 50, { settleSeconds: 1 }), refusedWith(new RegExp(`${canary} rachel8 (is activating|is failed|was restarted since its verify)`), "Refusing to advance to 50%"));
        // Under Restart=on-failure the host's systemd has been restarting it since.
        const restarts = Number((await runOnHost(host(canary), "systemctl show -p NRestarts --value rachel8")).stdout.trim());
        assert.ok(restarts >= 1, `${canary}: systemd counts ${restarts} restarts of the crashed release`);
    });

    it("a host that cannot be read counts against the threshold: refused above it, advanced (and retried) at or below it", async () => {
        await up("v3", 10, { settleSeconds: 3 });
        await up("v3", 50);
        const cohort50 = cohortFor(50, names(), sha("v3"));
        const down = cohort50[cohort50.length - 1];
        lab("fault", "unreachable", "--host", down);
        try {
            await assert.rejects(preview("v3", 100, { failureThreshold: "0.1" }),
                refusedWith(`${down} could not be read: rachel@${host(down).host}:22: unreachable (ECONNREFUSED)`, "1 of 5 hosts of the 50% stage count as failed (20%, threshold 10%)"));
            const res = await up("v3", 100, { failureThreshold: "0.3" });
            assert.match(res.stdout, /1 of 5 hosts of the 50% stage count as failed \(20%, threshold 30%\): advancing/);
            assert.deepStrictEqual([res.outputs.rollout.value.halted, res.outputs.rollout.value.failedHosts], [false, [down]]);
            assert.match(res.outputs.fleet.value[down].error, /could not be read: .*unreachable \(ECONNREFUSED\)/);
        } finally {
            lab("fault", "unreachable", "--host", down, "--off");
        }
        const retry = await up("v3", 100);
        assert.deepStrictEqual([retry.outputs.changing.value, retry.outputs.rollout.value.failed], [[down], 0]);
        const now = await truths();
        for (const n of names()) {
            assert.deepStrictEqual([now[n].head, now[n].active], [sha("v3"), "active"], n);
        }
    });
});
