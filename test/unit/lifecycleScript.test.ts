// The lifecycle script is shell generated from TypeScript strings: a syntax error, or a
// function named like a special builtin (which POSIX sh will not let a function replace),
// breaks every reading of every VPS. Parse it with the VPS's own /bin/sh (dash on Debian).
import * as assert from "assert";
import * as fs from "fs";
import { spawnSync } from "child_process";
import { lifecycleScript } from "../../lifecycle/script";
import { DEFAULTS } from "../../config/config";

describe("the generated lifecycle script", () => {
    it("parses and loads under POSIX sh (dash), and answers its usage line", () => {
        const sh = fs.existsSync("/usr/bin/dash") ? "/usr/bin/dash" : "/bin/sh";
        const { text } = lifecycleScript({ ...DEFAULTS, healthUrl: "http://{host}:8080/health" });
        const parsed = spawnSync(sh, ["-n"], { input: text, encoding: "utf8" });
        assert.strictEqual(parsed.status, 0, `${sh} -n refuses the script: ${parsed.stderr}`);
        // Loading every function definition catches what -n does not (a special builtin redefined).
        const run = spawnSync(sh, ["-s", "--", "no-such-command"], { input: text, encoding: "utf8" });
        assert.strictEqual(run.status, 2, `the script did not reach its usage line: ${run.stderr}`);
        assert.match(run.stderr, /^usage: .* update\|inspect\|rollback\|conclude\|readback\|recheck/);
    });
});
