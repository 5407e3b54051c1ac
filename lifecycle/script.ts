import { createHash } from "crypto";
import { AppSettings } from "../config/config";
import { shq } from "./shellQuote";
import { STEPS, VERIFYING_STEP } from "./steps";

/**
 * The one script the fleet runs on a VPS, generated from the step declaration and the
 * app settings. It is installed under a content-addressed name, so a command naming it
 * always runs exactly the code that generated the name, and the commands kept in stack
 * state stay a line long (the script itself is never stored in state).
 *
 * Subcommands (each one SSH exec):
 *   update <sha> <attempt> [health]    every step in order, once per attempt (see below)
 *   inspect <attempt>                   what the attempt left behind, as key=value lines
 *   rollback <previous> [health]        the rollback steps for the previous commit; exits non-zero on failure
 *   conclude <attempt> <outcome> <good|-> [error-b64]   records the outcome, last-good; removes the marker
 *   readback                            what the VPS runs now
 *   recheck [health]                    read-only: what the promotion re-check compares (see stages/gate.ts)
 *
 * `update` never exits non-zero for a failed step (a failing Pulumi resource would stop
 * the engine from starting other hosts): it records the failure in the attempt's
 * directory and skips the rest; the version provider judges and rolls back. A step done
 * in an interrupted run is not repeated, and an attempt that was concluded is never run
 * again (a re-run caused by, say, a rotated SSH key changes nothing on the VPS).
 */

/** Where the fleet keeps its state on a VPS, under the SSH user's home. */
export const STATE_DIR = "$HOME/.rachel-fleet";
/** Present while an update runs; the health checker skips the VPS while it is fresh. */
export const MARKER_FILE = `${STATE_DIR}/updating`;
/** The last commit that passed verify on this VPS. */
export const LAST_GOOD_FILE = `${STATE_DIR}/last-good`;
/** "<commit> <systemd InvocationID> <epoch>" of the last verify that passed (forward or rollback). */
export const VERIFIED_FILE = `${STATE_DIR}/verified`;
/** Seconds a re-run waits for an interrupted run of the same attempt still going on the VPS. */
const ATTEMPT_LOCK_WAIT = 900;
/** Attempt directories and script versions kept on a VPS. */
const KEEP_ATTEMPTS = 20;
const KEEP_SCRIPTS = 5;

export interface LifecycleScript {
    text: string;
    /** Its path on the VPS, named by its content. */
    path: string;
}

/** `<sha12>-<attempt>`: names the attempt's directory on the VPS. */
export function attemptIdFor(commit: string, attempt: number): string {
    return `${commit.slice(0, 12)}-${attempt}`;
}

export function healthUrlFor(app: AppSettings, host: string): string {
    return app.healthUrl.replace(/\{host\}/g, host);
}

/**
 * The longest a healthy update can hold the marker: forward steps (two fetches, install,
 * restart, verify with its health retries) and a rollback (install, restart, verify),
 * plus slack. A marker older than this is stale.
 */
export function markerLifetime(app: AppSettings): number {
    const verify = app.restartTimeout + Math.max(app.settleSeconds, app.minUptimeSeconds) + 30;
    return 2 * app.fetchTimeout + 2 * (app.installTimeout + app.restartTimeout + verify) + 120;
}

function settingsHeader(app: AppSettings): string {
    const words = app.installCommand.split(" ");
    return [
        `S="${STATE_DIR}"`,
        `APP_DIR=${shq(app.appDir)}; SERVICE=${shq(app.service)}`,
        `FETCH_TIMEOUT=${app.fetchTimeout}; INSTALL_TIMEOUT=${app.installTimeout}; RESTART_TIMEOUT=${app.restartTimeout}`,
        `SETTLE=${app.settleSeconds}; MIN_UPTIME=${app.minUptimeSeconds}; MARKER_LIFETIME=${markerLifetime(app)}`,
        `INSTALL_WORDS=${shq(app.installCommand)}`,
        // Timeouts are enforced on the VPS: a command the SSH session gave up on would run on.
        `timed() { t=$1; shift; timeout -k 5 "$t" "$@"; }`,
        `timed_install() { timeout -k 5 "$INSTALL_TIMEOUT" ${words.map(shq).join(" ")}; }`,
        // Empty where systemd cannot tell (no such property): comparisons then see no change.
        `unit_invocation() { systemctl show -p InvocationID --value "$SERVICE" 2>/dev/null; }`,
        `unit_restarts() { systemctl show -p NRestarts --value "$SERVICE" 2>/dev/null; }`,
    ].join("\n");
}

const runStep = `run_step() {
  name=$1
  [ -e "$A/failed" ] && return 0
  [ -e "$A/noop" ] && return 0
  [ -e "$A/done-$name" ] && { echo "$name: already done in this attempt"; return 0; }
  echo "$name ..."
  t0=$(date +%s.%N)
  # fd 9 (the attempt lock) is closed for the body, so a service it starts cannot inherit it.
  out=$( ( "step_$name" ) 9>&- 2>&1 ); rc=$?
  printf '%s\\n' "$out" > "$A/log-$name"
  echo "$t0 $(date +%s.%N)" > "$A/time-$name"
  last=$(printf '%s' "$out" | tail -n 6 | tr '\\n' ' ')
  if [ $rc -ne 0 ]; then
    printf '%s failed (exit %s): %s\\n' "$name" "$rc" "$last" > "$A/failed"
    echo "$name FAILED (exit $rc): $last"
  else
    : > "$A/done-$name"
    [ "$name" = ${VERIFYING_STEP} ] && echo "$sha" > "$A/verified"
    echo "$name: $(printf '%s' "$out" | tail -n 1)"
  fi
}`;

const update = `cmd_update() {
  sha=$1; attempt=$2; health=\${3:-}; A="$S/attempts/$attempt"
  if [ -e "$A/finished" ]; then echo "attempt $attempt was concluded earlier ($(cat "$A/outcome" 2>/dev/null)): nothing to run"; return 0; fi
  mkdir -p "$A" || exit 1
  # One run of an attempt at a time: after a killed pulumi up the old run may still be going.
  exec 9>"$A/.lock"
  if ! flock -w ${ATTEMPT_LOCK_WAIT} 9; then
    echo "an earlier run of attempt $attempt is still going after ${ATTEMPT_LOCK_WAIT}s" | tee "$A/failed"; return 0
  fi
  for step in ${STEPS.map((s) => s.name).join(" ")}; do run_step "$step"; done
  [ -e "$A/failed" ] && echo "attempt $attempt failed: the fleet rolls this VPS back"
  [ -e "$A/noop" ] && echo "nothing to do: already on $sha"
  return 0
}`;

const inspect = `cmd_inspect() {
  A="$S/attempts/$1"
  # A run of the attempt that lost its SSH session may still be going: judge what it left, not what it is doing.
  [ -e "$A/.lock" ] && flock -w ${ATTEMPT_LOCK_WAIT} "$A/.lock" true 2>/dev/null
  echo "head=$(git -C "$APP_DIR" rev-parse HEAD 2>/dev/null)"
  echo "active=$(systemctl is-active "$SERVICE" 2>/dev/null)"
  echo "previous=$(cat "$A/previous" 2>/dev/null)"
  echo "verified=$(cat "$A/verified" 2>/dev/null)"
  echo "noop=$([ -e "$A/noop" ] && echo 1 || echo 0)"
  echo "ran=$([ -d "$A" ] && echo 1 || echo 0)"
  echo "failed=$(base64 -w0 "$A/failed" 2>/dev/null)"
  echo "lastgood=$(cat "$S/last-good" 2>/dev/null)"
  echo "outcome=$(cat "$A/outcome" 2>/dev/null)"
  echo "error=$(base64 -w0 "$A/error" 2>/dev/null)"
  for f in "$A"/time-*; do [ -e "$f" ] && echo "$(basename "$f")=$(awk '{printf "%.3f", $2 - $1}' "$f")"; done
}`;

const rollback = `cmd_rollback() {
  sha=$1; health=\${2:-}
  echo "rolling back to $sha"
  for step in ${STEPS.filter((s) => s.rollback).map((s) => s.name).join(" ")}; do
    out=$( ( "step_$step" ) 2>&1 ) || { printf 'rollback %s failed: %s\\n' "$step" "$(printf '%s' "$out" | tail -n 6 | tr '\\n' ' ')"; exit 1; }
  done
  echo "rolled back to $sha"
}`;

const conclude = `cmd_conclude() {
  A="$S/attempts/$1"
  [ "$3" != - ] && echo "$3" > "$S/last-good"
  if [ -d "$A" ]; then
    echo "$2" > "$A/outcome"; printf '%s' "\${4:-}" | base64 -d > "$A/error" 2>/dev/null
    date +%s.%N > "$A/finished"
  fi
  rm -f "$S/updating"
  ls -1dt "$S"/attempts/* 2>/dev/null | tail -n +${KEEP_ATTEMPTS + 1} | xargs -r rm -rf
  ls -1t "$S"/bin/lifecycle-*.sh 2>/dev/null | tail -n +${KEEP_SCRIPTS + 1} | xargs -r rm -f
  echo concluded
}`;

const readback = `cmd_readback() {
  echo "head=$(git -C "$APP_DIR" rev-parse HEAD 2>/dev/null)"
  echo "active=$(systemctl is-active "$SERVICE" 2>/dev/null)"
  echo "lastgood=$(cat "$S/last-good" 2>/dev/null)"
  echo "marker=$(base64 -w0 "$S/updating" 2>/dev/null)"
}`;

/** Prints only; never changes the VPS (run from stdin, so not even the script is installed). */
const recheck = `cmd_recheck() {
  health=\${1:-}
  echo "head=$(git -C "$APP_DIR" rev-parse HEAD 2>/dev/null)"
  echo "active=$(systemctl is-active "$SERVICE" 2>/dev/null)"
  echo "invocation=$(unit_invocation)"
  echo "restarts=$(unit_restarts)"
  echo "verified=$(cat "${VERIFIED_FILE}" 2>/dev/null)"
  echo "marker=$(base64 -w0 "$S/updating" 2>/dev/null)"
  if [ -n "$health" ]; then
    body=$(curl -fsS --max-time 5 "$health" 2>&1); echo "healthrc=$?"
    echo "health=$(printf '%s' "$body" | head -c 400 | base64 -w0)"
  fi
}`;

const cache = new Map<string, LifecycleScript>();

/** The script for these app settings (generated once per settings). */
export function lifecycleScript(app: AppSettings): LifecycleScript {
    const key = JSON.stringify(app);
    let script = cache.get(key);
    if (!script) {
        const text = [
            "#!/bin/sh",
            "# rachel-fleet's update lifecycle for this VPS: generated by the fleet program, installed by it, never edited here.",
            settingsHeader(app),
            ...STEPS.map((s) => `step_${s.name}() {${s.body}\n}`),
            runStep, update, inspect, rollback, conclude, readback, recheck,
            `case "\${1:-}" in`,
            `  recheck) shift; cmd_recheck "$@" ;;`,
            `  update|inspect|rollback|conclude|readback) mkdir -p "$S" || exit 1; c=$1; shift; "cmd_$c" "$@" ;;`,
            `  *) echo "usage: $0 update|inspect|rollback|conclude|readback|recheck ..." >&2; exit 2 ;;`,
            `esac`,
            "",
        ].join("\n");
        const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
        script = { text, path: `${STATE_DIR}/bin/lifecycle-${hash}.sh` };
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
    return `f="${script.path}"; [ -r "$f" ] || { echo "rachel-fleet: $f is missing on this VPS; nothing ran"; exit 0; }; ` +
        `exec sh "$f" update ${commit} ${attemptId} ${shq(healthUrl)}`;
}

/**
 * Any other subcommand, as the providers and the program run it: the script arrives on
 * stdin and is installed first when missing, so it never depends on an earlier upload.
 */
export function scriptInvocation(script: LifecycleScript, args: string[]): { command: string; stdin: string } {
    const command = `f="${script.path}"; if [ -r "$f" ]; then cat >/dev/null; else ` +
        `mkdir -p "$(dirname "$f")" && cat > "$f.$$" && mv -f "$f.$$" "$f" || exit 1; fi; exec sh "$f" ${args.map(shq).join(" ")}`;
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
