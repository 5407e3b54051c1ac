import * as assert from "assert";
import * as yaml from "js-yaml";
import { SHA_A, labConfig, runProgram, valueOf } from "./mockFleet";
import { PROVISION_SCRIPT, cloudInitUserData, sudoersRule } from "../../provisioning/cloudInit";
import { lifecycleScript } from "../../lifecycle/script";
import { DEFAULTS } from "../../config/config";
import { generateOpenSshKeyPair } from "../../providers/opensshKeys";

const hetzner = { servers: [{ name: "hz-1" }, { name: "hz-2", serverType: "cx32", location: "fsn1" }], appPort: 8080 };
const config = { ...labConfig(0), hosts: "[]", sshPrivateKey: "", repoUrl: "https://git.example.org/rachel8.git", rolloutPercent: "100", hetzner: JSON.stringify(hetzner) };

describe("provisioning on Hetzner (mocked engine)", () => {
    it("creates one login key, an hcloud SSH key, a firewall and one server per entry, each with its own host key", async () => {
        const { registered, outputs } = await runProgram(config, {}, []);
        const count = (t: string) => registered.filter((r) => r.type === t).length;
        assert.strictEqual(count("hcloud:index/sshKey:SshKey"), 1);
        assert.strictEqual(count("hcloud:index/firewall:Firewall"), 1);
        assert.strictEqual(count("hcloud:index/server:Server"), 2);
        assert.strictEqual(count("random:index/randomId:RandomId"), 1);
        assert.strictEqual(count("pulumi-nodejs:dynamic/rachel-fleet:SshKeyPair"), 3, "a login key and one host key per server");
        const fw = registered.find((r) => r.type === "hcloud:index/firewall:Firewall")!;
        const ports = (await valueOf(fw.inputs.rules)).map((r: any) => r.port).sort();
        assert.deepStrictEqual(ports, ["22", "8080"]);
        const server = registered.find((r) => r.name === "hz-2-server")!;
        assert.deepStrictEqual([server.inputs.serverType, server.inputs.location, server.inputs.image], ["cx32", "fsn1", "debian-12"]);
        assert.ok(server.ignoreChanges.includes("userData"), "a new release must not rebuild the server");
        assert.ok(await (server.inputs.userData as any).isSecret, "user data holds the host's private key: secret");
        // Provisioned VPSs go through the same per-VPS component.
        assert.deepStrictEqual(Object.keys(outputs.fleet).sort(), ["hz-1", "hz-2"]);
        assert.strictEqual(outputs.fleet["hz-1"].targetVersion, SHA_A);
    });
});

describe("cloud-init", () => {
    const host = generateOpenSshKeyPair("hz-1-host");
    const text = cloudInitUserData({
        app: { ...DEFAULTS, repoUrl: "https://git.example.org/rachel8.git" },
        sshUser: "rachel",
        commit: SHA_A,
        authorizedKey: "ssh-ed25519 AAAAfleet",
        hostPublicKey: host.publicKey,
        hostPrivateKey: host.privateKey,
        appPort: 8080,
    });
    const doc = yaml.load(text) as any;

    it("is a #cloud-config that parses as YAML", () => {
        assert.ok(text.startsWith("#cloud-config\n"));
        assert.strictEqual(typeof doc, "object");
    });

    it("creates user rachel with the fleet key and no password", () => {
        assert.deepStrictEqual(doc.users[0].name, "rachel");
        assert.deepStrictEqual(doc.users[0].ssh_authorized_keys, ["ssh-ed25519 AAAAfleet"]);
        assert.strictEqual(doc.users[0].lock_passwd, true);
    });

    it("installs the program's host key, so the first connection is already pinned", () => {
        assert.strictEqual(doc.ssh_keys.ed25519_private.trim(), host.privateKey.trim());
        assert.strictEqual(doc.ssh_keys.ed25519_public, host.publicKey);
        assert.strictEqual(doc.ssh_deletekeys, true);
        // cloud-init's schema refuses an empty list (found by running it in the lab); the
        // listed type is the one given, so nothing is generated beside the pinned key.
        assert.deepStrictEqual(doc.ssh_genkeytypes, ["ed25519"]);
    });

    it("installs git and bun, prepares the release with the fleet's own lifecycle script (argv, no shell), and starts the unit", () => {
        assert.ok(doc.packages.includes("git"));
        // The first line stops the rest at the first failure: a failed first release must fail cloud-init.
        assert.strictEqual(doc.runcmd[0], "set -e");
        const cmds = doc.runcmd.slice(1).map((c: string[]) => c.join(" "));
        assert.ok(cmds.some((c: string) => c.includes("bun.sh/install")), "bun is installed");
        // An argv list: the URL and the commit are words, never parsed by a shell.
        assert.ok(doc.runcmd.slice(1).some((c: string[]) => JSON.stringify(c) === JSON.stringify(
            ["runuser", "-u", "rachel", "--", "sh", PROVISION_SCRIPT, "provision", "https://git.example.org/rachel8.git", SHA_A])), cmds.join("\n"));
        const script = doc.write_files.find((f: any) => f.path === PROVISION_SCRIPT);
        assert.strictEqual(script?.content.trim(), lifecycleScript({ ...DEFAULTS, repoUrl: "https://git.example.org/rachel8.git" }).text.trim()
            .split("\n").map((l: string) => l.trimEnd()).join("\n"), "cloud-init must carry the very lifecycle script the fleet runs");
        assert.ok(cmds.indexOf(cmds.find((c: string) => c.includes(" provision "))!) < cmds.indexOf("systemctl enable --now rachel8"),
            "the release is prepared before the unit first starts");
        const unit = doc.write_files.find((f: any) => f.path === "/etc/systemd/system/rachel8.service");
        assert.match(unit.content, /User=rachel/);
        assert.match(unit.content, /WorkingDirectory=\/home\/rachel\/rachel/);
        // A crash loop must never end in start-limit-hit: rachel's sudo rule cannot reset-failed.
        assert.match(unit.content, /^Restart=on-failure$/m);
        assert.match(unit.content, /^StartLimitIntervalSec=0$/m);
    });

    it("grants sudo for exactly systemctl restart and is-active of the service", () => {
        const rule = doc.write_files.find((f: any) => f.path === "/etc/sudoers.d/rachel8");
        assert.strictEqual(rule.permissions, "0440");
        assert.strictEqual(rule.content, sudoersRule("rachel", "rachel8"));
        assert.strictEqual(rule.content.trim(), "rachel ALL=(root) NOPASSWD: /usr/bin/systemctl restart rachel8, /usr/bin/systemctl is-active rachel8");
    });
});
