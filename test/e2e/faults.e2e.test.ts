// End to end: what real VPSs do to a rollout, under the real Pulumi engine on booted
// lab hosts (their own systemd): a host that reboots in the middle of its update, a
// host whose sshd was stopped, a service crash-looping under systemd's restarts. The
// fault each host suffered is its error in the stack's `fleet` output, and once the
// fault is gone the next `up` leaves every host on the release, none between versions.
import * as assert from "assert";
import { LabStatus } from "../../lab/labStatus";
import { hostTruth } from "../lab/hostTruth";
import { inHost } from "../../lab/container";
import { lab } from "../lab/labCli";
import { TestStack, labStackSuite, runLog } from "./stackHarness";

describe("faults of real VPSs under the real Pulumi engine (4-host lab)", function () {
    this.timeout(1800000);
    let status: LabStatus;
    let t: TestStack;
    const sha = (tag: string) => (status.releases as Record<string, string>)[tag];
    const up = (tag: string) => {
        // Three of four hosts fail on purpose: the stage must not halt on them.
        t.configure({ targetCommit: sha(tag), rolloutPercent: 100, failureThreshold: 1 });
        return t.stack.up({ onOutput: runLog.write });
    };

    labStackSuite("faults", 4, (st) => ({ targetCommit: st.releases.v1, rolloutPercent: 100 }), (st, ts) => ((status = st), (t = ts)));

    it("a reboot mid-update, a stopped sshd and a crash loop each end as that host's error in the stack; the next up converges", async () => {
        const [rebooting, noSshd, crashing, healthy] = status.hosts.map((h) => h.name);
        const bootedAt = () => inHost(status.labDir, rebooting, ["/bin/sh", "-c", "cut -d' ' -f22 /proc/1/stat"]);
        const before = await bootedAt();
        lab("fault", "reboot-mid-update", "--host", rebooting);
        lab("fault", "sshd-stopped", "--host", noSshd);
        lab("fault", "crash-loop", "--host", crashing);
        let res;
        try {
            if (t.stepRunner === "command") {
                // remote.Command fails its resource when the connection drops: the engine names the host.
                await assert.rejects(up("v2"), (e: Error) => e.message.includes(`${rebooting}-update`) && /connection|closed|EOF/i.test(e.message));
                res = await up("v2");
            } else {
                res = await up("v2");
            }
        } finally {
            lab("fault", "sshd-stopped", "--host", noSshd, "--off");
        }
        assert.notStrictEqual(await bootedAt(), before, `${rebooting} did not reboot`);
        const fleet = res.outputs.fleet.value;
        assert.strictEqual(fleet[healthy].updateStatus, "success", JSON.stringify(fleet[healthy]));
        if (t.stepRunner === "ssh2") {
            // The record waited for the host to come back, judged what the interrupted run left, and rolled it back.
            assert.strictEqual(fleet[rebooting].updateStatus, "rolled_back", JSON.stringify(fleet[rebooting]));
            assert.match(fleet[rebooting].error, /^the update stopped after \w+ and never reached the end of verify \(.*\): the connection dropped or the VPS rebooted mid-update; rolled back to [0-9a-f]{40}$/);
        }
        assert.strictEqual(fleet[noSshd].updateStatus, "failed");
        assert.match(fleet[noSshd].error, /unreachable \(ECONNREFUSED\)/);
        // The crash loop outlives the rollback too (the fault is on the host, not in the release).
        assert.strictEqual(fleet[crashing].updateStatus, "failed", JSON.stringify(fleet[crashing]));
        assert.match(fleet[crashing].error, /verify failed .*(crash|restarted)/);
        assert.match(fleet[crashing].error, /ROLLBACK TO .* ALSO FAILED/);

        lab("fault", "crash-loop", "--host", crashing, "--off");
        const again = await up("v2");
        for (const h of status.hosts) {
            const r = again.outputs.fleet.value[h.name];
            assert.deepStrictEqual([r.updateStatus, r.currentVersion], ["success", sha("v2")], `${h.name}: ${JSON.stringify(r)}`);
            const truth = await hostTruth(h);
            assert.deepStrictEqual([truth.head, truth.active, truth.marker], [sha("v2"), "active", "no-marker"], h.name);
        }
    });
});
