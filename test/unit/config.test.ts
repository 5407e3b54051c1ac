import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { labConfig, runProgram } from "./mockFleet";
import { CONFIG_NS } from "../../config/types";
import { ConfigError, parseFleetStage } from "../../config/config";

/**
 * Every bad input stops the program with a message naming the key, the bad value
 * and the fix, before any resource is registered (so before any host is touched).
 */
async function rejects(config: Record<string, string>, ...parts: (string | RegExp)[]) {
    let registered: { type: string }[] | undefined;
    await assert.rejects(
        async () => {
            registered = (await runProgram(config)).registered;
        },
        (e: Error) => {
            for (const p of parts) {
                const ok = typeof p === "string" ? e.message.includes(p) : p.test(e.message);
                assert.ok(ok, `message lacks ${p}: ${e.message}`);
            }
            assert.ok(/Fix: /.test(e.message), `message gives no fix: ${e.message}`);
            return true;
        },
    );
    assert.strictEqual(registered, undefined, "no resource may be registered");
}

const withHosts = (hosts: object[], extra: Record<string, string> = {}) => ({ ...labConfig(1), hosts: JSON.stringify(hosts), ...extra });
const goodHost = { name: "web-1", host: "127.0.1.1", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq7Yf8z0ffhC4mGzI4OaJbqYcA2dmF1k8Rk1y3Cj1bM" };

describe("bad input is refused at preview with a clear message", () => {
    it("a sharded fleet's stage is checked by the program's rules, its failure threshold included", () => {
        const sha = "a".repeat(40);
        assert.deepStrictEqual(parseFleetStage(sha, "50", undefined, CONFIG_NS), { targetCommit: sha, rolloutPercent: 50, threshold: 0.3 });
        assert.deepStrictEqual(parseFleetStage(sha, "10", "0.5", CONFIG_NS).threshold, 0.5);
        assert.throws(() => parseFleetStage(sha, "10", "lots", CONFIG_NS), (e: Error) => e instanceof ConfigError && /^rachel-fleet:failureThreshold must be a number from 0 to 1 \(a fraction of the stage's hosts\); got "lots"\. Fix: pulumi config set rachel-fleet:failureThreshold 0\.3/.test(e.message));
        assert.throws(() => parseFleetStage(sha, "150", undefined, CONFIG_NS), /rachel-fleet:rolloutPercent must be a whole number from 1 to 100; got "150"/);
    });

    it("the operator's tools name the config namespace the program reads: the project's name", () => {
        const project = /^name:\s*(\S+)/m.exec(fs.readFileSync(path.join(__dirname, "../../Pulumi.yaml"), "utf8"));
        assert.strictEqual(project?.[1], CONFIG_NS, "Pulumi.yaml's name and config/types.ts CONFIG_NS differ: the operator's tools would set keys the program never reads");
    });
    it("a short or non-hex commit", async () => {
        await rejects(labConfig(3, { targetCommit: "abc123" }), "rachel-fleet:targetCommit", `"abc123"`, "40-character");
        await rejects(labConfig(3, { targetCommit: "g".repeat(40) }), "rachel-fleet:targetCommit", "hex");
        await rejects(labConfig(3, { targetCommit: "A".repeat(40) }), "lowercase");
    });

    it("a missing commit or percentage", async () => {
        const c = labConfig(3);
        delete (c as any).targetCommit;
        await rejects(c, "rachel-fleet:targetCommit is required");
        const d = labConfig(3);
        delete (d as any).rolloutPercent;
        await rejects(d, "rachel-fleet:rolloutPercent is required");
    });

    it("a percentage of 0, 101 or not a number", async () => {
        for (const bad of ["0", "101", "ten", "10.5", "-5"]) {
            await rejects(labConfig(3, { rolloutPercent: bad }), "rachel-fleet:rolloutPercent", JSON.stringify(bad), "1 to 100");
        }
    });

    it("a threshold outside 0–1", async () => {
        for (const bad of ["1.5", "-0.1", "abc", "30"]) {
            await rejects(labConfig(3, { failureThreshold: bad }), "rachel-fleet:failureThreshold", JSON.stringify(bad), "0 to 1");
        }
    });

    it("shell metacharacters in anything that reaches a shell", async () => {
        await rejects(labConfig(3, { appDir: "/home/rachel/x; rm -rf /" }), "rachel-fleet:appDir");
        await rejects(labConfig(3, { appDir: "relative/dir" }), "rachel-fleet:appDir", "absolute");
        await rejects(labConfig(3, { service: "rachel8$(id)" }), "rachel-fleet:service");
        await rejects(labConfig(3, { sshUser: "rachel;id" }), "rachel-fleet:sshUser");
        await rejects(labConfig(3, { repoUrl: "https://x.example/r.git`id`" }), "rachel-fleet:repoUrl");
        await rejects(labConfig(3, { installCommand: "bun install && curl evil" }), "rachel-fleet:installCommand", "metacharacters");
        await rejects(labConfig(3, { installCommand: "bun install | tee" }), "rachel-fleet:installCommand");
        await rejects(labConfig(3, { healthUrl: "http://{host}/h'; id; '" }), "rachel-fleet:healthUrl");
        await rejects(withHosts([{ ...goodHost, user: "$(whoami)" }]), "hosts[0].user");
        await rejects(withHosts([{ ...goodHost, host: "1.2.3.4;reboot" }]), "hosts[0].host");
    });

    it("an unknown step runner", async () => {
        await rejects(labConfig(3, { stepRunner: "ansible" }), "rachel-fleet:stepRunner", `"ansible"`);
    });

    it("duplicate host names", async () => {
        await rejects(withHosts([goodHost, { ...goodHost, host: "127.0.1.2" }]), "duplicate host name", `"web-1"`);
    });

    it("a host without a pinned host key, or with a malformed one", async () => {
        const { hostKey: _omit, ...noKey } = goodHost;
        await rejects(withHosts([noKey]), "hosts[0].hostKey", "pinned");
        await rejects(withHosts([{ ...goodHost, hostKey: "not a key" }]), "hosts[0].hostKey");
    });

    it("a missing private key, or one stored in plaintext", async () => {
        const c = labConfig(2);
        delete (c as any).sshPrivateKey;
        await rejects(c, "no private key", "rachel-fleet:sshPrivateKey is missing", "--secret");
        let err: Error | undefined;
        await runProgram(labConfig(2), {}, []).catch((e) => (err = e));
        assert.match(String(err?.message), /sshPrivateKey is stored in plaintext.*--secret/s);
    });

    it("never prints a private key in an error, whatever else is wrong with the host", async () => {
        const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nSECRETBYTES\n-----END OPENSSH PRIVATE KEY-----\n";
        let err: Error | undefined;
        await runProgram(withHosts([{ ...goodHost, hostkey: "typo", privateKey: key }]), {}, ["sshPrivateKey", "hosts"]).catch((e) => (err = e));
        assert.match(String(err?.message), /unknown field hostkey/);
        assert.ok(!String(err?.message).includes("SECRETBYTES"), `the key leaked: ${err?.message}`);
        let second: Error | undefined;
        await runProgram(withHosts([{ ...goodHost, port: "x", privateKey: key }]), {}, ["sshPrivateKey", "hosts"]).catch((e) => (second = e));
        assert.match(String(second?.message), /hosts\[0\]\.port must be a TCP port/, "the second host's own error, not the first's");
        assert.ok(!String(second?.message).includes("SECRETBYTES"), `the key leaked: ${second?.message}`);
    });

    it("a per-host private key stored in plaintext next to an encrypted one", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-stackfile-"));
        const cwd = process.cwd();
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), [
            "config:",
            "  rachel-fleet:hosts:",
            "    - name: a",
            "      privateKey:",
            "        secure: v1:abc",
            "    - name: b",
            "      privateKey: '-----BEGIN OPENSSH PRIVATE KEY----- plain'",
        ].join("\n"));
        process.chdir(dir);
        try {
            await rejects(labConfig(2), "rachel-fleet:hosts[1].privateKey is stored in plaintext in Pulumi.dev.yaml", "--secret --path");
        } finally {
            process.chdir(cwd);
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("unknown keys, and unknown fields in a host", async () => {
        await rejects(labConfig(3, { rolloutPercentage: "10" }), "unknown config key rachel-fleet:rolloutPercentage", "pulumi config rm");
        await rejects(withHosts([{ ...goodHost, adress: "x" }]), "hosts[0]", "unknown field adress");
    });

    it("an empty fleet, and a bad port", async () => {
        await rejects(withHosts([]), "the fleet is empty");
        await rejects(withHosts([{ ...goodHost, port: 70000 }]), "hosts[0].port");
    });

    it("a provisioned fleet without a repo URL", async () => {
        await rejects(labConfig(1, { hetzner: JSON.stringify({ servers: [{ name: "new-1" }] }) }), "rachel-fleet:repoUrl", "required when VPSs are provisioned");
    });

    it("warns, naming the hosts and the fix, when a fleet is reached as root", async () => {
        const warnings: string[] = [];
        const warn = pulumi.log.warn;
        (pulumi.log as any).warn = (m: string) => warnings.push(m);
        try {
            await runProgram(labConfig(2, { sshUser: "root" }));
        } finally {
            (pulumi.log as any).warn = warn;
        }
        const w = warnings.find((m) => /reached as root/.test(m));
        assert.ok(w, `no warning about root: ${warnings.join(" | ")}`);
        assert.match(w!, /^vps-01, vps-02 are reached as root: every fleet command then runs as root there.*Fix: pulumi config set rachel-fleet:sshUser rachel/);
    });
});
