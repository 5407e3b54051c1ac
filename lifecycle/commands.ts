import { AppSettings } from "../config/config";
import { shq } from "./shellQuote";

/**
 * The exact shell the fleet runs on a VPS. The component's remote.Command steps,
 * the dynamic provider's rollback and the integration tests all take their strings
 * from here, so what is tested is what runs.
 *
 * Every step is guarded and idempotent: it records a failure in the attempt's
 * directory and exits 0 (a non-zero exit would fail the Pulumi resource, and the
 * engine would then stop starting other hosts), later steps of a failed attempt are
 * no-ops, and a step that already completed is not repeated when an interrupted
 * `pulumi up` is re-run. Timeouts are enforced on the VPS with `timeout`, because
 * remote.Command has none of its own.
 */

/** Where the fleet keeps its state on a VPS, under the SSH user's home. */
export const STATE_DIR = "$HOME/.rachel-fleet";
/** Present while an update runs; the health checker skips the VPS while it is fresh. */
export const MARKER_FILE = `${STATE_DIR}/updating`;
/** The last commit that passed verify on this VPS. */
export const LAST_GOOD_FILE = `${STATE_DIR}/last-good`;

export const STEP_NAMES = ["prepare", "fetch", "checkout", "install", "restart", "verify"] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** What a step needs to know about the app and the attempt. */
export interface StepContext {
    app: AppSettings;
    /** The commit this attempt moves the VPS to. */
    target: string;
    /** `<sha12>-<attempt>`: names the attempt's directory on the VPS. */
    attemptId: string;
    /** The VPS's health URL with {host} filled in; empty: no health check. */
    healthUrl: string;
}

export function attemptIdFor(target: string, attempt: number): string {
    return `${target.slice(0, 12)}-${attempt}`;
}

export function healthUrlFor(app: AppSettings, host: string): string {
    return app.healthUrl.replace(/\{host\}/g, host);
}

const attemptDir = (ctx: StepContext) => `${STATE_DIR}/attempts/${ctx.attemptId}`;
/** Seconds a re-run waits for an interrupted run of the same step still going on the VPS. */
const STEP_LOCK_WAIT = 900;

/**
 * The longest a healthy update can hold the marker: forward steps (two fetches, install,
 * restart, verify with its health retries) and a rollback (install, restart, verify),
 * plus slack. A marker older than this is stale.
 */
export function markerLifetime(app: AppSettings): number {
    const verify = app.restartTimeout + app.settleSeconds + 30;
    return 2 * app.fetchTimeout + 2 * (app.installTimeout + app.restartTimeout + verify) + 120;
}
const timeoutCmd = (seconds: number) => `timeout -k 5 ${seconds}`;

/** The body of each step for moving the app to `sha`; shared by update and rollback. */
export function stepBodies(app: AppSettings, sha: string, healthUrl: string) {
    const dir = shq(app.appDir);
    const svc = shq(app.service);
    const install = app.installCommand.split(" ").map(shq).join(" ");
    const timedOut = (what: string, seconds: number) =>
        `rc=$?; [ $rc -eq 124 ] && echo "${what} timed out after ${seconds}s"; exit $rc`;
    const health = healthUrl === "" ? "" : [
        `i=0; while :; do`,
        `  body=$(curl -fsS --max-time 5 ${shq(healthUrl)} 2>&1) && break`,
        `  i=$((i+1)); [ $i -ge 5 ] && { echo "health check ${healthUrl.replace(/"/g, "")} failed: $body"; exit 1; }`,
        `  sleep 1`,
        `done`,
        `case "$body" in *${sha}*) echo "healthy: $body" ;; *) echo "health check answered without commit ${sha}: $body"; exit 1 ;; esac`,
    ].join("\n");
    return {
        fetch: [
            `cd ${dir} || exit 1`,
            `if ! git cat-file -e ${sha}^{commit} 2>/dev/null; then`,
            // A failed branch/tag fetch (a moved tag, say) is not fatal: the commit itself is tried next.
            `  ${timeoutCmd(app.fetchTimeout)} git fetch --quiet --tags origin || echo "git fetch --tags origin exited $?; fetching the commit itself"`,
            `  git cat-file -e ${sha}^{commit} 2>/dev/null || ${timeoutCmd(app.fetchTimeout)} git fetch --quiet origin ${sha} 2>/dev/null`,
            `  git cat-file -e ${sha}^{commit} 2>/dev/null || { echo "commit ${sha} is not in origin"; exit 1; }`,
            `fi`,
            `echo "have ${sha}"`,
        ].join("\n"),
        checkout: [
            `cd ${dir} || exit 1`,
            `git -c advice.detachedHead=false checkout --quiet --force --detach ${sha} || exit 1`,
            `head=$(git rev-parse HEAD); [ "$head" = ${sha} ] || { echo "HEAD is $head, not ${sha}, after checkout"; exit 1; }`,
            `echo "checked out ${sha}"`,
        ].join("\n"),
        install: [
            `cd ${dir} || exit 1`,
            `${timeoutCmd(app.installTimeout)} ${install} </dev/null || { ${timedOut(app.installCommand, app.installTimeout)}; }`,
        ].join("\n"),
        restart: [
            `${timeoutCmd(app.restartTimeout)} sudo -n systemctl restart ${svc} </dev/null || { ${timedOut("systemctl restart", app.restartTimeout)}; }`,
            `echo "restarted ${app.service}"`,
        ].join("\n"),
        // Not a fixed sleep: active, then still active after the settle window, then healthy
        // with the expected commit. A service that dies a second after start fails here.
        verify: [
            `deadline=$(( $(date +%s) + ${app.restartTimeout} ))`,
            `while :; do`,
            `  st=$(systemctl is-active ${svc} 2>/dev/null)`,
            `  [ "$st" = active ] && break`,
            `  [ "$st" = failed ] && { echo "${app.service} is failed after restart"; exit 1; }`,
            `  [ $(date +%s) -ge $deadline ] && { echo "${app.service} not active within ${app.restartTimeout}s (state: $st)"; exit 1; }`,
            `  sleep 0.5`,
            `done`,
            `sleep ${app.settleSeconds}`,
            `st=$(systemctl is-active ${svc} 2>/dev/null)`,
            `[ "$st" = active ] || { echo "${app.service} was active but is '$st' after the ${app.settleSeconds}s settle window: it crashed after start"; exit 1; }`,
            `head=$(cd ${dir} && git rev-parse HEAD); [ "$head" = ${sha} ] || { echo "HEAD is $head, not ${sha}"; exit 1; }`,
            health,
            `echo "verified ${sha}"`,
        ].join("\n"),
    };
}

/**
 * Runs `body` once per attempt: skipped after an earlier failure or a no-op prepare,
 * repeated never once done; a failure is written to the attempt's `failed` file.
 */
function guardedStep(name: string, dir: string, body: string, onSuccess = ":"): string {
    return [
        `A=${dir}`,
        // A concluded attempt's directory is never resumed: prepare starts it afresh.
        ...(name === "prepare" ? [`[ -e "$A/finished" ] && rm -rf "$A"`] : []),
        `mkdir -p "$A" || exit 1`,
        // One step of an attempt at a time: after a killed \`pulumi up\` the old step may
        // still run on the VPS when the re-run starts the same step again.
        `exec 9>"$A/.lock"; flock -w ${STEP_LOCK_WAIT} 9 || { echo "${name}: an earlier run of this step is still going after ${STEP_LOCK_WAIT}s"; exit 1; }`,
        `[ -e "$A/failed" ] && { echo "${name}: skipped, an earlier step failed: $(head -c 400 "$A/failed")"; exit 0; }`,
        `[ -e "$A/noop" ] && { echo "${name}: skipped, already on the target and healthy"; exit 0; }`,
        `[ -e "$A/done-${name}" ] && { echo "${name}: already done in this attempt"; exit 0; }`,
        `out=$( (`,
        body,
        // fd 9 (the lock) is closed for the body, so a service it starts cannot inherit it.
        `) 9>&- 2>&1 ); rc=$?`,
        `printf '%s\\n' "$out" | tail -n 20`,
        `if [ $rc -ne 0 ]; then`,
        `  printf '%s failed (exit %s): %s\\n' ${name} "$rc" "$(printf '%s' "$out" | tail -n 6 | tr '\\n' ' ')" > "$A/failed"`,
        `else`,
        `  : > "$A/done-${name}"; ${onSuccess}`,
        `fi`,
        `exit 0`,
    ].join("\n");
}

/**
 * prepare: marks the VPS as updating (with a timestamp, so a stale marker can be
 * recognised) and remembers the commit to roll back to: the last commit the fleet
 * verified on this VPS (last-good), whatever HEAD is (an interrupted attempt, a failed
 * rollback or a hand checkout leaves HEAD on an unverified commit); HEAD only on a VPS
 * never verified. A VPS already on the target, verified and active is left alone.
 */
function prepareBody(ctx: StepContext): string {
    const dir = shq(ctx.app.appDir);
    return [
        `S=${STATE_DIR}; mkdir -p "$S" || exit 1`,
        `[ -s "$A/started" ] || date +%s.%N > "$A/started"`,
        `now=$(date +%s)`,
        `printf '{"since":"%s","epoch":%s,"staleAfterEpoch":%s,"target":"%s","attempt":"%s"}\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$now" "$((now + ${markerLifetime(ctx.app)}))" ${ctx.target} ${ctx.attemptId} > "$S/updating.tmp" && mv "$S/updating.tmp" ${MARKER_FILE} || exit 1`,
        // A VPS provisioned moments ago may still be running cloud-init (cloning the app).
        `if [ -d /var/lib/cloud/instance ] && [ ! -e /var/lib/cloud/instance/boot-finished ] && command -v cloud-init >/dev/null; then`,
        `  echo "waiting for cloud-init to finish"; timeout 600 cloud-init status --wait >/dev/null`,
        `fi`,
        `head=$(cd ${dir} && git rev-parse HEAD) || { echo "${ctx.app.appDir} is not a git checkout"; exit 1; }`,
        `good=$(cat ${LAST_GOOD_FILE} 2>/dev/null)`,
        `if [ "$head" = ${ctx.target} ] && [ "$good" = ${ctx.target} ] && [ "$(systemctl is-active ${shq(ctx.app.service)} 2>/dev/null)" = active ]; then`,
        `  echo ${ctx.target} > "$A/previous"; : > "$A/noop"; echo "already on ${ctx.target}, verified and active: nothing to do"; exit 0`,
        `fi`,
        // The rollback target is the last commit the fleet verified here; HEAD only on a
        // VPS it has never verified. A HEAD off last-good was never verified by this fleet.
        `if [ ! -s "$A/previous" ]; then`,
        `  if [ -n "$good" ]; then echo "$good" > "$A/previous"; else echo "$head" > "$A/previous"; fi`,
        `fi`,
        `echo "previous: $(cat "$A/previous")"`,
    ].join("\n");
}

/** The forward update sequence, one command per step, in order. */
export function updateSteps(ctx: StepContext): { name: StepName; command: string }[] {
    const dir = attemptDir(ctx);
    const bodies = stepBodies(ctx.app, ctx.target, ctx.healthUrl);
    const body: Record<StepName, string> = { prepare: prepareBody(ctx), ...bodies };
    return STEP_NAMES.map((name) => ({
        name,
        command: guardedStep(name, dir, body[name], name === "verify" ? `echo ${ctx.target} > "$A/verified"` : ":"),
    }));
}

/**
 * What the attempt left behind, as key=value lines (free text base64-encoded):
 * read by the dynamic provider to decide between success and rollback.
 */
export function inspectCommand(ctx: StepContext): string {
    const svc = shq(ctx.app.service);
    return [
        `A=${attemptDir(ctx)}`,
        `echo "head=$(git -C ${shq(ctx.app.appDir)} rev-parse HEAD 2>/dev/null)"`,
        `echo "active=$(systemctl is-active ${svc} 2>/dev/null)"`,
        `echo "previous=$(cat "$A/previous" 2>/dev/null)"`,
        `echo "verified=$(cat "$A/verified" 2>/dev/null)"`,
        `echo "noop=$([ -e "$A/noop" ] && echo 1 || echo 0)"`,
        `echo "ran=$([ -d "$A" ] && echo 1 || echo 0)"`,
        `echo "failed=$(base64 -w0 "$A/failed" 2>/dev/null)"`,
        `echo "lastgood=$(cat ${LAST_GOOD_FILE} 2>/dev/null)"`,
    ].join("\n");
}

/** Moves the VPS back to `previous`: checkout → install → restart → verify. Exits non-zero on failure. */
export function rollbackCommand(ctx: StepContext, previous: string): string {
    const b = stepBodies(ctx.app, previous, ctx.healthUrl);
    const steps = (["checkout", "install", "restart", "verify"] as const).map((name) => [
        `out=$( (`,
        b[name],
        `) 2>&1 ) || { printf 'rollback %s failed: %s\\n' ${name} "$(printf '%s' "$out" | tail -n 6 | tr '\\n' ' ')"; exit 1; }`,
        `printf '%s\\n' "$out" | tail -n 5`,
    ].join("\n"));
    return [`echo "rolling back to ${previous}"`, ...steps, `echo "rolled back to ${previous}"`].join("\n");
}

/**
 * Ends an attempt on every path: records the verified commit (if any) as last
 * good, stamps when the attempt finished, removes the marker, and keeps only the
 * newest attempt directories.
 */
export function concludeCommand(ctx: StepContext, goodCommit: string | undefined): string {
    return [
        goodCommit ? `echo ${goodCommit} > ${LAST_GOOD_FILE}` : `:`,
        `[ -d ${attemptDir(ctx)} ] && date +%s.%N > ${attemptDir(ctx)}/finished`,
        `rm -f ${MARKER_FILE}`,
        `ls -1dt ${STATE_DIR}/attempts/* 2>/dev/null | tail -n +21 | xargs -r rm -rf`,
        `echo concluded`,
    ].join("\n");
}

/** What the VPS runs now, for read-back and `pulumi refresh`. */
export function readbackCommand(app: AppSettings): string {
    return [
        `echo "head=$(git -C ${shq(app.appDir)} rev-parse HEAD 2>/dev/null)"`,
        `echo "active=$(systemctl is-active ${shq(app.service)} 2>/dev/null)"`,
        `echo "lastgood=$(cat ${LAST_GOOD_FILE} 2>/dev/null)"`,
        `echo "marker=$(base64 -w0 ${MARKER_FILE} 2>/dev/null)"`,
    ].join("\n");
}

/** Parses key=value lines printed by inspect/readback. */
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
