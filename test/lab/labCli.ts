import * as assert from "assert";
import * as path from "path";
import { spawnSync } from "child_process";
import { REPO_ROOT } from "../../lab/paths";

const TS_NODE = require.resolve("ts-node/dist/bin.js");

/** Runs `npm run lab -- <args>` (without npm's noise) and returns how it ended. */
export function labRun(args: string[], env: NodeJS.ProcessEnv = process.env) {
    return spawnSync(process.execPath, [TS_NODE, "--transpile-only", path.join(REPO_ROOT, "lab", "cli.ts"), ...args], { cwd: REPO_ROOT, encoding: "utf8", env });
}

/** Runs `npm run lab -- <args>` and fails loudly. */
export function lab(...args: string[]): string {
    const r = labRun(args);
    assert.strictEqual(r.status, 0, `npm run lab -- ${args.join(" ")} failed (exit ${r.status}):\n${r.stderr}`);
    return r.stdout;
}
