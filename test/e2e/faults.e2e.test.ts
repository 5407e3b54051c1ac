// End to end: what real VPSs do to a rollout, under the real Pulumi engine on booted
// lab hosts (their own systemd): a host that reboots in the middle of its update (its
// prepare), a host whose sshd was stopped, a service crash-looping under systemd's
// restarts. The rebooted host's update resumes; each other fault is that host's error in
// the stack's `fleet` output, and once it is gone the next `up` leaves every host on the
// release, none between versions.
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

    it("a reboot mid-prepare is waited for and its update goes on; a stopped sshd and a crash loop each end as that host's error; the next up converges", async () => {
        const [rebooting, noSshd, crashing, healthy] = status.hosts.map((h) => h.name);
        const bootedAt = () => inHost(status.labDir, rebooting, ["/bin/sh", "-c", "cut -d' ' -f22 /proc/1/stat"]);
        const before = await bootedAt();
        lab("fault", "reboot-mid-update", "--host", rebooting);
        lab("fault", "sshd-stopped", "--host", noSshd);
        lab("fault", "crash-loop", "--host", crashing);
        let res;
        try {
            res = await up("v2");
        } finally {
            lab("fault", "sshd-stopped", "--host", noSshd, "--off");
        }
        assert.notStrictEqual(await bootedAt(), before, `${rebooting} did not reboot`);
        const fleet = res.outputs.fleet.value;
        assert.strictEqual(fleet[healthy].updateStatus, "success", JSON.stringify(fleet[healthy]));
        // The reboot came during bun install, in the prepare phase (nothing switched yet): the
        // program waited for the VPS to come back and resumed the prepare, so the update went on.
        assert.strictEqual(fleet[rebooting].updateStatus, "success", JSON.stringify(fleet[rebooting]));
        assert.strictEqual((await hostTruth(status.hosts[0])).head, sha("v2"));
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
