import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { AppSettings } from "../config/config";
import { shq } from "./shellQuote";
import { VERIFYING_STEP, stepsOf } from "./steps";

/**
 * The one script the fleet runs on a VPS: lifecycle.sh (beside this file) with its settings
 * block filled in from the app settings and the step declaration. It is installed under a
 * content-addressed name, so a command naming it always runs exactly the code that
 * generated the name, and the commands kept in stack state stay a line long (the script
 * itself is never stored in state). The subcommands are listed at the top of lifecycle.sh.
 */

/** Where the fleet keeps things on a VPS: one table, also the script's own settings. */
export const ON_HOST = {
    /** Attempts, the host lock, last-good, verified, the update marker, the installed scripts. */
    state: "$HOME/.rachel-fleet",
    /** One directory per release, named by its commit. */
    releases: "$HOME/releases",
    /** The bare repository every release directory is a worktree of. */
    repo: "$HOME/releases/.repo",
    /** The subscriber's environment file, which the unit reads (EnvironmentFile=). */
    env: "$HOME/.rachel-fleet/env",
} as const;

/** ON_HOST.env as the unit names it: systemd does not expand $HOME, and the unit runs as `user`. */
export function envFileOf(user: string): string {
    return ON_HOST.env.replace("$HOME", `/home/${user}`);
}
/** Present while an update runs; the health checker skips the VPS while it is fresh. */
export const MARKER_FILE = `${ON_HOST.state}/updating`;
/** Attempt directories and script versions kept on a VPS. */
const KEEP_ATTEMPTS = 20;
const KEEP_SCRIPTS = 5;
/** How long the read-only re-check waits for an update holding the host lock. */
const RECHECK_LOCK_WAIT = 10;

const SOURCE = path.join(__dirname, "lifecycle.sh");
const SETTINGS_BLOCK = /^# --- settings:.*\n([\s\S]*?)^# --- end of settings ---$/m;

export interface LifecycleScript {
    text: string;
    /** Its path on the VPS, named by its content. */
    path: string;
    /** sha256 of text: an upload is installed only when it arrived whole. */
    sha256: string;
}

/**
 * `<sha12>-<attempt>-<stack id>`: names the attempt's directory on the VPS. The stack's id
 * makes it this stack's own: another stack's attempt with the same commit and number (or
 * this stack's before its state was lost) is a different directory, never taken for ours.
 */
export function attemptIdFor(commit: string, attempt: number, stackId?: string): string {
    return `${commit.slice(0, 12)}-${attempt}${stackId ? `-${stackId}` : ""}`;
}

export function healthUrlFor(app: AppSettings, host: string): string {
    return app.healthUrl.replace(/\{host\}/g, host);
}

/**
 * The longest a healthy update can hold the marker: forward steps (two fetches, install,
 * restart, verify with its health retries) and a rollback (install, restart, verify),
 * plus slack. A marker older than this is stale. It is also how long a fleet operation
 * waits for the host lock: no healthy run holds it longer.
 */
export function markerLifetime(app: AppSettings): number {
    const verify = app.restartTimeout + Math.max(app.settleSeconds, app.minUptimeSeconds) + 30;
    return 2 * app.fetchTimeout + 2 * (app.installTimeout + app.restartTimeout + verify) + 120;
}

/** The settings block's values for these app settings; `$HOME` paths stay expandable. */
function settings(app: AppSettings): Record<string, string> {
    const home = (p: string) => `"${p}"`; // only "$HOME/..." literals from ON_HOST: no quoting needed beyond ""
    return {
        STATE: home(ON_HOST.state),
        RELEASES: home(ON_HOST.releases),
        REPO: home(ON_HOST.repo),
        ENV_FILE: home(ON_HOST.env),
        APP_DIR: shq(app.appDir),
        SERVICE: shq(app.service),
        INSTALL_COMMAND: shq(app.installCommand),
        FETCH_TIMEOUT: shq(app.fetchTimeout),
        INSTALL_TIMEOUT: shq(app.installTimeout),
        RESTART_TIMEOUT: shq(app.restartTimeout),
        SETTLE: shq(app.settleSeconds),
        MIN_UPTIME: shq(app.minUptimeSeconds),
        MARKER_LIFETIME: shq(markerLifetime(app)),
        LOCK_WAIT: shq(markerLifetime(app)),
        RECHECK_LOCK_WAIT: shq(RECHECK_LOCK_WAIT),
        KEEP_RELEASES: shq(app.keepReleases),
        KEEP_ATTEMPTS: shq(KEEP_ATTEMPTS),
        KEEP_SCRIPTS: shq(KEEP_SCRIPTS),
        PREPARE_STEPS: shq(stepsOf("prepare").join(" ")),
        SWITCH_STEPS: shq(stepsOf("switch").join(" ")),
        VERIFYING_STEP: shq(VERIFYING_STEP),
    };
}

/** lifecycle.sh with its settings block filled in; every name in the block must be set, and no other. */
export function fillSettings(source: string, app: AppSettings): string {
    const block = SETTINGS_BLOCK.exec(source);
    if (!block) throw new Error(`${SOURCE} lost its settings block`);
    const values = settings(app);
    const names = block[1].split("\n").filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split("=")[0]);
    const missing = names.filter((n) => !(n in values));
    const extra = Object.keys(values).filter((n) => !names.includes(n));
    if (missing.length || extra.length) {
        throw new Error(`lifecycle.sh's settings block and script.ts disagree: not filled ${missing.join(", ") || "-"}; not in the block ${extra.join(", ") || "-"}`);
    }
    const filled = names.map((n) => `${n}=${values[n]}`).join("\n");
    return source.replace(SETTINGS_BLOCK, `# --- settings of this fleet (filled in by the program) ---\n${filled}\n# --- end of settings ---`);
}

const cache = new Map<string, LifecycleScript>();

/** The script for these app settings (generated once per settings). */
export function lifecycleScript(app: AppSettings): LifecycleScript {
    const key = JSON.stringify(app);
    let script = cache.get(key);
    if (!script) {
        const text = fillSettings(fs.readFileSync(SOURCE, "utf8"), app);
        const sha256 = createHash("sha256").update(text).digest("hex");
        script = { text, sha256, path: `${ON_HOST.state}/bin/lifecycle-${sha256.slice(0, 16)}.sh` };
        cache.set(key, script);
    }
    return script;
}

/**
 * The update step as the step resource runs it: one line, naming the installed script.
 * A missing script is reported and nothing runs (exit 0): the attempt then counts as
 * failed and the next `up`, which installs the script again, retries it.
 */
export function updateCommand(script: LifecycleScript, commit: string, attemptId: string, healthUrl: string): string {
    return installedScriptCommand(script, ["update", commit, attemptId, healthUrl], 0);
}

/**
 * The prepare with the attempt's environment file on stdin (never on a command line): run
 * after a reading over the same connection has installed the script.
 */
export function prepareWithEnvCommand(script: LifecycleScript, commit: string, attemptId: string): string {
    return installedScriptCommand(script, ["prepare", commit, attemptId, "--env"], 66);
}

/** A subcommand of the installed script; `missingExit` when it is not there (nothing ran). */
function installedScriptCommand(script: LifecycleScript, args: string[], missingExit: number): string {
    return `f="${script.path}"; [ -r "$f" ] || { echo "rachel-fleet: $f is missing on this VPS; nothing ran"; exit ${missingExit}; }; ` +
        `exec sh "$f" ${args.map(shq).join(" ")}`;
}

/**
 * Any other subcommand, as the providers and the program run it: the script arrives on
 * stdin and is installed first when missing, so it never depends on an earlier upload.
 * It is installed only when its sha256 matches: a dropped or cut upload leaves nothing
 * under the content name (the scripts already installed stay as they are).
 */
export function scriptInvocation(script: LifecycleScript, args: string[]): { command: string; stdin: string } {
    const command = `f="${script.path}"; if [ -r "$f" ]; then cat >/dev/null; else ` +
        `mkdir -p "$(dirname "$f")" && cat > "$f.$$" || exit 1; ` +
        `if [ "$(sha256sum < "$f.$$" | cut -d' ' -f1)" != ${script.sha256} ]; then rm -f "$f.$$"; ` +
        `echo "rachel-fleet: the lifecycle script arrived incomplete (sha256 mismatch); not installed, nothing ran" >&2; exit 65; fi; ` +
        `mv -f "$f.$$" "$f" || exit 1; fi; exec sh "$f" ${args.map(shq).join(" ")}`;
    return { command, stdin: script.text };
}

/** A subcommand that must leave no trace on the VPS: the script runs from stdin, nothing is installed. */
export function readOnlyInvocation(script: LifecycleScript, args: string[]): { command: string; stdin: string } {
    return { command: `sh -s -- ${args.map(shq).join(" ")}`, stdin: script.text };
}

/** Parses key=value lines printed by inspect and readback. */
export function parseKeyValues(stdout: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
        const i = line.indexOf("=");
        if (i > 0) {
            out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
        }
    }
    return out;
}
