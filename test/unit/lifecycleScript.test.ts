// The on-host lifecycle is a real shell file (lifecycle/lifecycle.sh) that the program fills
// in: a syntax error, a function named like a special builtin (which POSIX sh will not let
// a function replace), or a step declared in steps.ts without its body breaks every VPS.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { fillSettings, lifecycleScript } from "../../lifecycle/script";
import { STEP_NAMES } from "../../lifecycle/steps";
import { DEFAULTS } from "../../config/config";

const SOURCE = path.join(__dirname, "../../lifecycle/lifecycle.sh");
const app = { ...DEFAULTS, healthUrl: "http://{host}:8080/health" };

describe("the lifecycle script", () => {
    it("parses and loads under POSIX sh (dash), and answers its usage line", () => {
        const sh = fs.existsSync("/usr/bin/dash") ? "/usr/bin/dash" : "/bin/sh";
        const { text } = lifecycleScript(app);
        const parsed = spawnSync(sh, ["-n"], { input: text, encoding: "utf8" });
        assert.strictEqual(parsed.status, 0, `${sh} -n refuses the script: ${parsed.stderr}`);
        // Loading every function definition catches what -n does not (a special builtin redefined).
        const run = spawnSync(sh, ["-s", "--", "no-such-command"], { input: text, encoding: "utf8" });
        assert.strictEqual(run.status, 2, `the script did not reach its usage line: ${run.stderr}`);
        assert.match(run.stderr, /^usage: .* provision\|prepare\|update\|inspect\|rollback\|conclude\|readback\|recheck/);
    });

    it("passes shellcheck, as written in the repository and as filled in for a stack", () => {
        const version = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
        assert.strictEqual(version.status, 0, "shellcheck is missing: install Debian's shellcheck package (scripts/setup.sh does)");
        for (const [what, input] of [["lifecycle.sh", fs.readFileSync(SOURCE, "utf8")], ["the filled-in script", lifecycleScript(app).text]]) {
            const r = spawnSync("shellcheck", ["-s", "sh", "-"], { input, encoding: "utf8" });
            assert.strictEqual(r.status, 0, `shellcheck finds problems in ${what}:\n${r.stdout}${r.stderr}`);
        }
    });

    it("has a step_<name> body for exactly the steps lifecycle/steps.ts declares", () => {
        const bodies = [...fs.readFileSync(SOURCE, "utf8").matchAll(/^step_([a-z_]+)\(\)/gm)].map((m) => m[1]);
        assert.deepStrictEqual([...bodies].sort(), [...STEP_NAMES].sort(), "steps.ts and lifecycle.sh's step_ functions differ");
    });

    it("fills in every setting quoted, so a value cannot become shell code", () => {
        const text = lifecycleScript({ ...app, installCommand: "bun install --frozen-lockfile", keepReleases: 7 }).text;
        assert.match(text, /^INSTALL_COMMAND='bun install --frozen-lockfile'$/m);
        assert.match(text, /^KEEP_RELEASES='7'$/m);
        assert.match(text, /^PREPARE_STEPS='begin fetch build install'$/m);
        assert.match(text, /^SWITCH_STEPS='switch restart verify'$/m);
        assert.match(fillSettings(fs.readFileSync(SOURCE, "utf8"), { ...app, appDir: "/srv/it's" }), /^APP_DIR='\/srv\/it'\\''s'$/m);
    });

    it("refuses a settings block that names a setting the program does not fill", () => {
        const source = fs.readFileSync(SOURCE, "utf8").replace("KEEP_SCRIPTS=5\n", "KEEP_SCRIPTS=5\nNEW_SETTING=1\n");
        assert.throws(() => fillSettings(source, app), /settings block and script\.ts disagree: not filled NEW_SETTING/);
    });
});
