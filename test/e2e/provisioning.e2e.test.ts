// End to end: a VPS provisioned by this stack, under the real Pulumi engine. The
// hcloud API is the lab's fake (lab/fakeCloud: its "server" is a booted Debian lab
// host given nothing but the server's user-data); the rest is real: the program
// generates the host key and the cloud-init, Debian's cloud-init executes it (NoCloud),
// and the first SSH contact already checks the pinned key, before the same rollout
// that updates the lab's other hosts moves the new VPS to the next release.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { LabStatus, readLabStatus } from "../../lab/labStatus";
import { REPO_ROOT } from "../../lab/paths";
import { inHost } from "../../lab/container";
import { cloudServers } from "../../lab/fakeCloud/vps";
import { systemdUnit, sudoersRule } from "../../provisioning/cloudInit";
import { DEFAULTS } from "../../config/config";
import { lab } from "../lab/labCli";
import { TestStack, createTestStack, runLog } from "./stackHarness";

const FAKE_CLOUD = path.join(REPO_ROOT, "lab", "fakeCloud", "bin");

/** Every file a file:// backend holds (the stack's checkpoint and its history). */
function backendFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? backendFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe("a VPS provisioned by the stack: cloud-init executed, then rolled like every host (real engine)", function () {
    this.timeout(1800000);
    let status: LabStatus;
    let t: TestStack;
    const sha = (tag: string) => (status.releases as Record<string, string>)[tag];
    const onVps = (script: string) => inHost(status.labDir, "hz-1", ["/bin/bash", "-c", script]);
    const up = (tag: string, extra: Record<string, unknown> = {}) => {
        t.configure({ targetCommit: sha(tag), rolloutPercent: 100, ...extra });
        return t.stack.up({ onOutput: runLog.write });
    };

    before(async () => {
        for (const plugin of ["pulumi-resource-hcloud", "pulumi-resource-random"]) {
            const file = path.join(FAKE_CLOUD, plugin);
            if (!fs.existsSync(file)) throw new Error(`the lab's fake ${plugin} is missing at ${file}: this test cannot provision a VPS without it`);
        }
        lab("up", "--hosts", "2");
        status = readLabStatus();
        t = await createTestStack("provision", status, {
            targetCommit: sha("v1"),
            rolloutPercent: 100,
            hetzner: { servers: [{ name: "hz-1" }], appPort: 8080 },
        }, { pathPrefix: FAKE_CLOUD });
    });
    afterEach(function () {
        runLog.settle(this.currentTest);
    });
    after(async () => {
        await t?.destroy();
        lab("down");
    });

    it("the new VPS comes up from its user-data alone: user, pinned host key, app at the release, unit enabled, sudo rule; the first up verifies it", async () => {
        const res = await up("v1");
        const vps = res.outputs.fleet.value["hz-1"];
        assert.strictEqual(vps.updateStatus, "success", JSON.stringify(vps));
        assert.strictEqual(vps.currentVersion, sha("v1"));
        const address = cloudServers(status.labDir)["hz-1"].address;
        assert.match(address, /^127\.0\.1\.\d+$/);

        // What cloud-init did, read on the host as root.
        const [cloudInit, user, head, enabled, active] = (await onVps(
            "cloud-init status | sed 's/^status: //'; id -un rachel; runuser -u rachel -- git -C /home/rachel/rachel rev-parse HEAD; systemctl is-enabled rachel8; systemctl is-active rachel8",
        )).trim().split("\n");
        assert.deepStrictEqual([cloudInit, user, head, enabled, active], ["done", "rachel", sha("v1"), "enabled", "active"]);
        assert.strictEqual((await onVps("cat /etc/systemd/system/rachel8.service")), systemdUnit({ ...DEFAULTS }, "rachel", 8080));
        assert.strictEqual((await onVps("cat /etc/sudoers.d/rachel8")), sudoersRule("rachel", "rachel8"));
        assert.strictEqual((await onVps("stat -c %a /etc/sudoers.d/rachel8")).trim(), "440");
        const errors = JSON.parse(await onVps("cat /var/lib/cloud/data/result.json")).v1.errors;
        assert.deepStrictEqual(errors, [], "cloud-init reported errors");

        // The key sshd presents is the one the stack generated and pinned, and nothing else is offered.
        const state = await t.stack.exportStack();
        const pinned = state.deployment.resources.find((r: any) => r.urn.endsWith("::hz-1-hostkey")).outputs.publicKey;
        const served = (await onVps("cat /etc/ssh/ssh_host_*_key.pub")).trim().split(/\s+/).slice(0, 2).join(" ");
        assert.strictEqual(served, pinned);
        assert.strictEqual((await onVps("ls /etc/ssh | grep -c '^ssh_host_.*_key$'")).trim(), "1", "sshd has host keys besides the pinned one");
        // The host's private key (read on the VPS) and the user-data carrying it are secrets:
        // neither is in the state file as stored (the export above is decrypted).
        const privateBody = (await onVps("sed -n 2p /etc/ssh/ssh_host_ed25519_key")).trim();
        const stored = backendFiles(t.env.PULUMI_BACKEND_URL.replace(/^file:\/\//, "")).map((f) => fs.readFileSync(f, "utf8")).join("\n");
        assert.ok(privateBody.length > 40 && stored.includes("hz-1-hostkey"), "the check would see nothing");
        assert.ok(!stored.includes(privateBody), "the VPS's private host key is in plaintext in the stack's state");
        assert.ok(!stored.includes("#cloud-config"), "the user-data is in plaintext in the stack's state");
    });

    it("the next release reaches the new VPS and the lab's hosts through the same rollout", async () => {
        const res = await up("v2");
        for (const name of ["hz-1", ...status.hosts.map((h) => h.name)]) {
            const r = res.outputs.fleet.value[name];
            assert.deepStrictEqual([r.updateStatus, r.currentVersion, r.previousVersion], ["success", sha("v2"), sha("v1")], `${name}: ${JSON.stringify(r)}`);
        }
        assert.strictEqual((await onVps("runuser -u rachel -- git -C /home/rachel/rachel rev-parse HEAD")).trim(), sha("v2"));
    });

    it("a VPS whose host key no longer matches the pin is refused, and nothing runs on it", async () => {
        await onVps("rm /etc/ssh/ssh_host_ed25519_key* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh");
        const marker = "/home/rachel/.rachel-fleet/attempts";
        const attemptsBefore = await onVps(`ls ${marker} | sort`);
        // One host of three failing must not halt the stage: what is asserted is that host.
        const res = await up("v3", { failureThreshold: 0.5 });
        const vps = res.outputs.fleet.value["hz-1"];
        assert.strictEqual(vps.updateStatus, "failed", JSON.stringify(vps));
        assert.match(vps.error, /host key does not match/);
        assert.strictEqual(await onVps(`ls ${marker} | sort`), attemptsBefore, "an attempt ran on a host that failed the pin");
        assert.strictEqual((await onVps("runuser -u rachel -- git -C /home/rachel/rachel rev-parse HEAD")).trim(), sha("v2"));
        for (const h of status.hosts) assert.strictEqual(res.outputs.fleet.value[h.name].currentVersion, sha("v3"), h.name);
    });
});
