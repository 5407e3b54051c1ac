// A subscriber's environment (issue 18): validated like every other key, never echoed.
import * as assert from "assert";
import { parseFleetConfig } from "../../config/config";
import { envDigest, envFileText, mergedEnv } from "../../config/env";
import { labConfig } from "./mockFleet";

const NS = "rachel-fleet";
const TOKEN = "7301234567:AAH-very-secret-bot-token";
const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq7Yf8z0ffhC4mGzI4OaJbqYcA2dmF1k8Rk1y3Cj1bM";

function parse(extra: Record<string, string>, opts: { secret?: string[]; inventory?: string } = {}) {
    const raw = { ...labConfig(2), ...extra };
    return parseFleetConfig(raw, {
        ns: NS,
        secretKeys: new Set(["sshPrivateKey", ...(opts.secret ?? [])]),
        readInventory: () => opts.inventory ?? "",
    });
}

const hosts = (envs: unknown[]) => JSON.stringify(envs.map((env, i) => ({ name: `vps-0${i + 1}`, host: `127.0.1.${i + 1}`, hostKey, ...(env === undefined ? {} : { env }) })));

/** Asserts the config is refused with every part named, and the secret value nowhere in the message. */
function refused(extra: Record<string, string>, parts: (string | RegExp)[], opts: { secret?: string[]; inventory?: string } = {}) {
    assert.throws(() => parse(extra, opts), (e: Error) => {
        for (const p of parts) assert.ok(typeof p === "string" ? e.message.includes(p) : p.test(e.message), `message lacks ${p}: ${e.message}`);
        assert.ok(!e.message.includes(TOKEN) && !e.message.includes("very-secret"), `the message shows the secret: ${e.message}`);
        assert.match(e.message, /Fix: /);
        return true;
    });
}

describe("a subscriber's env in stack config", () => {
    it("each host carries its own env over the fleet-wide one; numbers and booleans are text", () => {
        const cfg = parse({ hosts: hosts([{ TELEGRAM_BOT_TOKEN: TOKEN, OWNER_ID: 4242 }, undefined]), env: JSON.stringify({ LOG_LEVEL: "info", OWNER_ID: "1" }) }, { secret: ["hosts"] });
        assert.deepStrictEqual(cfg.hosts[0].env, { TELEGRAM_BOT_TOKEN: TOKEN, OWNER_ID: "4242" });
        assert.strictEqual(cfg.hosts[1].env, undefined);
        assert.deepStrictEqual(cfg.env, { LOG_LEVEL: "info", OWNER_ID: "1" });
        assert.deepStrictEqual(mergedEnv(cfg.env, cfg.hosts[0].env), { LOG_LEVEL: "info", OWNER_ID: "4242", TELEGRAM_BOT_TOKEN: TOKEN });
        assert.deepStrictEqual(mergedEnv(cfg.env, cfg.hosts[1].env), { LOG_LEVEL: "info", OWNER_ID: "1" });
    });

    it("refuses a name an environment file cannot hold, naming the key and a valid name, never the value", () => {
        refused({ hosts: hosts([{ "telegram-token": TOKEN }]) }, [`${NS}:hosts[0].env.telegram-token`, "not an environment variable name", "TELEGRAM_TOKEN"], { secret: ["hosts"] });
        refused({ hosts: hosts([{ "9LIVES": TOKEN }]) }, [`${NS}:hosts[0].env.9LIVES`, "_9LIVES"], { secret: ["hosts"] });
    });

    it("refuses a value with a line break, a list, or env that is not a map, without showing it", () => {
        refused({ hosts: hosts([{ TOKEN: `${TOKEN}\nINJECTED=1` }]) }, [`${NS}:hosts[0].env.TOKEN holds a line break`, "value not shown"], { secret: ["hosts"] });
        refused({ hosts: hosts([{ TOKEN: [TOKEN] }]) }, [`${NS}:hosts[0].env.TOKEN must be a single value`], { secret: ["hosts"] });
        refused({ hosts: hosts([TOKEN]) }, [`${NS}:hosts[0].env must be a map`], { secret: ["hosts"] });
        refused({ env: TOKEN }, [`${NS}:env must be a map`, "not a plain string", "value not shown"], { secret: ["env"] });
        refused({ env: JSON.stringify({ "bad name": TOKEN }) }, [`${NS}:env.bad name`], { secret: ["env"] });
    });

    it("refuses env in an inventory file (plaintext), pointing at stack config", () => {
        const inventory = `hosts:\n  - {name: inv-1, host: 127.0.2.1, hostKey: "${hostKey}", env: {TOKEN: "${TOKEN}"}}\n`;
        refused({ inventoryFile: "fleet.yaml" }, ["fleet.yaml: hosts[0].env", "plaintext", "pulumi config set --secret --path"], { inventory });
    });

    it("a host whose other fields are wrong is reported without its env", () => {
        refused({ hosts: JSON.stringify([{ name: "Bad Name", host: "127.0.1.1", hostKey, env: { TOKEN } }]) }, [`${NS}:hosts[0].name`], { secret: ["hosts"] });
    });
});

describe("the environment file and its digest", () => {
    it("writes one NAME=\"value\" line per variable, sorted, quotes and backslashes escaped, $ kept", () => {
        assert.strictEqual(envFileText({ B: 'say "hi" \\ $HOME', A: "x" }), 'A="x"\nB="say \\"hi\\" \\\\ $HOME"\n');
        assert.strictEqual(envFileText({}), "");
    });

    it("changes with any value, not with the order; differs per stack and per host; empty for no variables", () => {
        const a = envDigest({ TOKEN, OWNER: "1" }, "5eed1d00", "vps-01");
        assert.match(a, /^[0-9a-f]{32}$/);
        assert.strictEqual(envDigest({ OWNER: "1", TOKEN }, "5eed1d00", "vps-01"), a);
        assert.notStrictEqual(envDigest({ TOKEN: TOKEN + "x", OWNER: "1" }, "5eed1d00", "vps-01"), a);
        assert.notStrictEqual(envDigest({ TOKEN, OWNER: "1" }, "0ther1d0", "vps-01"), a);
        assert.notStrictEqual(envDigest({ TOKEN, OWNER: "1" }, "5eed1d00", "vps-02"), a);
        assert.strictEqual(envDigest({}, "5eed1d00", "vps-01"), "");
    });
});
