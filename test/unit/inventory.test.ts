import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { labConfig, runProgram, valueOf } from "./mockFleet";

/**
 * inventoryFile: the static inventory kept in a file, for fleets whose stack config would
 * pass Linux's 128 KiB cap on one environment variable (the engine's PULUMI_CONFIG).
 */
const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq7Yf8z0ffhC4mGzI4OaJbqYcA2dmF1k8Rk1y3Cj1bM";
let dir: string;
const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
};

/** The SSH endpoint each version record was registered with. */
async function probedTargets(registered: { type: string; inputs?: any }[]): Promise<string[]> {
    const records = registered.filter((r) => r.type === "pulumi-nodejs:dynamic/rachel-fleet:VpsVersion");
    const targets = await Promise.all(records.map(async (r) => {
        const { hostName, endpoint: t } = await valueOf(r.inputs.spec);
        return `${hostName} ${t.user}@${t.host}:${t.port} ${t.hostKey}`;
    }));
    return targets.sort();
}

async function refusal(config: Record<string, string>): Promise<string> {
    let registered: unknown;
    const err = await runProgram(config).then((r) => { registered = r.registered; return undefined; }, (e: Error) => e);
    assert.ok(err, `the program accepted ${JSON.stringify(config.inventoryFile)}; it registered ${JSON.stringify(registered)?.slice(0, 200)}`);
    assert.match(err.message, /Fix: /, `no fix in: ${err.message}`);
    return err.message;
}

describe("inventoryFile: a static inventory kept in a file", () => {
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-inventory-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("adds the file's hosts (YAML list) to those in stack config, defaults applied", async () => {
        const f = write("hosts.yaml", [
            `- {name: file-1, host: 127.0.2.1, hostKey: "${hostKey} comment"}`,
            `- {name: file-2, host: 127.0.2.2, port: 2222, user: deploy, hostKey: "${hostKey}"}`,
        ].join("\n"));
        const { registered, outputs } = await runProgram(labConfig(2, { inventoryFile: f, rolloutPercent: "100" }));
        assert.deepStrictEqual(Object.keys(outputs.fleet).sort(), ["file-1", "file-2", "vps-01", "vps-02"]);
        assert.deepStrictEqual(await probedTargets(registered as any), [
            `file-1 rachel@127.0.2.1:22 ${hostKey}`,
            `file-2 deploy@127.0.2.2:2222 ${hostKey}`,
            `vps-01 rachel@127.0.1.1:22 ${hostKey}`,
            `vps-02 rachel@127.0.1.2:22 ${hostKey}`,
        ]);
    });

    it("reads JSON, and the {hosts: [...]} form, relative to the project directory", async () => {
        write("inv.json", JSON.stringify({ hosts: [{ name: "j-1", host: "127.0.2.9", hostKey }] }));
        const cwd = process.cwd();
        process.chdir(dir);
        try {
            const { outputs } = await runProgram(labConfig(1, { inventoryFile: "inv.json", rolloutPercent: "100" }));
            assert.deepStrictEqual(Object.keys(outputs.fleet).sort(), ["j-1", "vps-01"]);
        } finally {
            process.chdir(cwd);
        }
    });

    it("a missing or unparsable file is refused, naming the file", async () => {
        const missing = path.join(dir, "nope.yaml");
        assert.match(await refusal(labConfig(1, { inventoryFile: missing })), /inventoryFile .*nope\.yaml.* cannot be read \(ENOENT/);
        const bad = write("bad.yaml", "- name: [unclosed\n");
        assert.match(await refusal(labConfig(1, { inventoryFile: bad })), /bad\.yaml is not valid YAML or JSON/);
        const empty = write("empty.yaml", "");
        assert.match(await refusal(labConfig(1, { inventoryFile: empty })), /lists no hosts/);
        const other = write("other.yaml", "servers: []\n");
        assert.match(await refusal(labConfig(1, { inventoryFile: other })), /unknown field servers/);
    });

    it("a bad entry is refused with its file, index and field", async () => {
        const f = write("hosts.yaml", `- {name: ok-1, host: 127.0.2.1, hostKey: "${hostKey}"}\n- {name: bad-2, host: "1.2.3.4;reboot", hostKey: "${hostKey}"}\n`);
        const msg = await refusal(labConfig(1, { inventoryFile: f }));
        assert.match(msg, /hosts\.yaml: hosts\[1\]\.host must be a host name/);
        assert.match(msg, /in .*hosts\.yaml/);
        const g = write("nokey.yaml", "- {name: ok-1, host: 127.0.2.1}\n");
        assert.match(await refusal(labConfig(1, { inventoryFile: g })), /hosts\[0\]\.hostKey .*pinned/);
    });

    it("refuses a private key in the file (plaintext) and never prints it", async () => {
        const f = write("hosts.yaml", `- name: k-1\n  host: 127.0.2.1\n  hostKey: "${hostKey}"\n  privateKey: "-----BEGIN OPENSSH PRIVATE KEY----- SECRETBYTES"\n`);
        const msg = await refusal(labConfig(1, { inventoryFile: f }));
        assert.match(msg, /hosts\[0\]\.privateKey: an inventory file is plaintext/);
        assert.ok(!msg.includes("SECRETBYTES"), `the key leaked: ${msg}`);
    });

    it("a name in both the file and stack config is a duplicate", async () => {
        const f = write("hosts.yaml", `- {name: vps-01, host: 127.0.2.1, hostKey: "${hostKey}"}\n`);
        assert.match(await refusal(labConfig(1, { inventoryFile: f })), /duplicate host name "vps-01"/);
    });

    it("an inventory file alone makes a fleet", async () => {
        const f = write("hosts.yaml", `- {name: only-1, host: 127.0.2.1, hostKey: "${hostKey}"}\n`);
        const { outputs } = await runProgram({ ...labConfig(0, { inventoryFile: f, rolloutPercent: "100" }), hosts: "[]" });
        assert.deepStrictEqual(Object.keys(outputs.fleet), ["only-1"]);
    });

    it("warns when stack config nears the 128 KiB the engine can pass, pointing at inventoryFile", async () => {
        const warnings: string[] = [];
        const warn = pulumi.log.warn;
        (pulumi.log as any).warn = (msg: string) => warnings.push(msg);
        try {
            await runProgram(labConfig(100, { rolloutPercent: "100" }));
            assert.ok(!warnings.some((w) => w.includes("128 KiB")), `warned for 100 hosts: ${warnings.join("\n")}`);
            await runProgram(labConfig(800, { rolloutPercent: "1" }));
        } finally {
            (pulumi.log as any).warn = warn;
        }
        const w = warnings.find((x) => x.includes("128 KiB"));
        assert.ok(w, `no warning for 800 hosts in stack config; warnings: ${warnings.join("\n")}`);
        assert.match(w!, /the stack config is \d+ KiB.*inventoryFile/s);
    });
});
