// What the engine's processes load before the first host is touched: the program and each
// dynamic provider run with plain node (Pulumi.yaml typescript: false), their TypeScript
// transpiled through boot/transpile.js's cache, and the SDK taken module by module
// (boot/sdk.ts). Loading the compiler or the SDK's index again would cost every preview and
// up about a second before its first host, and as much CPU taken from the hosts.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";

const ROOT = path.join(__dirname, "../..");

/** Loads `what` in a fresh node (no ts-node) and lists what it loaded, by kind. */
function loadedBy(what: string): { typescript: boolean; sdkIndex: boolean; arborist: boolean; tsNode: boolean } {
    const probe = `${what};
const ks = Object.keys(require.cache);
console.log(JSON.stringify({
  typescript: ks.some((k) => k.includes("/node_modules/typescript/")),
  sdkIndex: ks.includes(require.resolve("@pulumi/pulumi")),
  arborist: ks.some((k) => k.includes("/@npmcli/arborist/")),
  tsNode: ks.some((k) => k.includes("/node_modules/ts-node/")),
}));`;
    // Twice: the first run may fill the cache (a fresh clone); the second must be warm.
    for (const _ of [1, 2]) {
        const r = spawnSync(process.execPath, ["-e", probe], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(r.status, 0, `loading failed: ${r.stderr}`);
        if (_ === 2) return JSON.parse(r.stdout.trim().split("\n").pop()!);
    }
    throw new Error("unreachable");
}

describe("the engine's start: what the program and its providers load", function () {
    this.timeout(60000);

    it("the program loads, warm, with neither the TypeScript compiler, ts-node nor the SDK's index (npm's arborist)", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        assert.strictEqual(pkg.main, "boot/program.js", "package.json main is the engine's entry point");
        assert.match(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"), /typescript: false/, "Pulumi.yaml must not make the language host load ts-node");
        const loaded = loadedBy(`const program = require("./boot/program.js"); if (typeof program !== "function") throw new Error("the program exports " + typeof program)`);
        assert.deepStrictEqual(loaded, { typescript: false, sdkIndex: false, arborist: false, tsNode: false },
            "something in the program imports \"@pulumi/pulumi\" (use boot/sdk) or a package that loads it eagerly (@pulumi/command, @pulumi/hcloud: load them where they are needed)");
    });

    it("each dynamic provider loads, warm, without the compiler or ts-node", () => {
        for (const kind of ["VpsVersion", "RemoteStep", "SshKeyPair"]) {
            const loaded = loadedBy(`const p = require("./providers/load.js")(${JSON.stringify(kind)}); if (!p || typeof p !== "object") throw new Error("no provider for ${kind}")`);
            assert.strictEqual(loaded.typescript, false, `${kind}'s provider loaded the TypeScript compiler`);
            assert.strictEqual(loaded.tsNode, false, `${kind}'s provider loaded ts-node`);
        }
    });

    it("a provider kind stacks no longer register (StackIdentity) still loads, as an empty provider the engine can delete with", () => {
        const r = spawnSync(process.execPath, ["-e", `const p = require("./providers/load.js")("StackIdentity"); console.log(JSON.stringify(p))`], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(r.status, 0, r.stderr);
        assert.strictEqual(r.stdout.trim(), "{}");
        const unknown = spawnSync(process.execPath, ["-e", `require("./providers/load.js")("NoSuchKind")`], { cwd: ROOT, encoding: "utf8" });
        assert.match(unknown.stderr, /rachel-fleet has no provider for NoSuchKind; the stack state was written by another version of rachel-fleet/);
    });

    it("transpiles by content: an edited file is transpiled again, a broken one is refused with its name", () => {
        const { javascriptFor } = require(path.join(ROOT, "boot/transpile.js"));
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rachel-fleet-transpile-"));
        const file = path.join(dir, "sample.ts");
        try {
            fs.writeFileSync(file, `export const answer: number = ${Date.now()};\n`);
            const first = javascriptFor(file);
            assert.match(first, /exports\.answer = \d+;/);
            assert.doesNotMatch(first, /: number/);
            fs.writeFileSync(file, `export const answer: string = "edited";\n`);
            assert.match(javascriptFor(file), /exports\.answer = "edited";/, "the cache served the old content");
            fs.writeFileSync(file, `export const answer = ;\n`);
            assert.throws(() => javascriptFor(file), (e: Error) => e.message.startsWith(`${file}: Expression expected`));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("drops the SDK's per-resource debug lines unless RACHEL_FLEET_SDK_DEBUG asks for them", () => {
        const probe = (env: Record<string, string>) => {
            const r = spawnSync(process.execPath, ["-e", `
const quieted = require("./boot/sdkDebug").quietSdkDebug(process.env);
const log = require("@pulumi/pulumi/log");
// The SDK's modules import log through __importStar, which hands back this very object for an ES module.
console.log(JSON.stringify({ quieted, esModule: log.__esModule === true, sdkDebug: /excessiveDebugOutput/.test(String(log.debug)) }));`], { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...env } });
            assert.strictEqual(r.status, 0, r.stderr);
            return JSON.parse(r.stdout.trim());
        };
        assert.deepStrictEqual(probe({}), { quieted: true, esModule: true, sdkDebug: false });
        assert.deepStrictEqual(probe({ RACHEL_FLEET_SDK_DEBUG: "1" }), { quieted: false, esModule: true, sdkDebug: true });
    });
});
