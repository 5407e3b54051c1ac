/**
 * The update lifecycle of one VPS, declared once: the steps in order, what each runs
 * on the VPS, and which of them a rollback repeats for the previous commit. The
 * on-host script (script.ts), the component's step resource, the version provider's
 * judgement and rollback, the lab tests and the bench floor all iterate over this
 * list; adding, removing or reordering a step is a change here and nowhere else.
 *
 * Bodies are POSIX sh run inside the generated script, where these are defined:
 *   $sha      the commit this run moves the VPS to
 *   $health   the VPS's health URL ({host} filled in), or empty for no HTTP check
 *   $A        the attempt's directory on the VPS
 *   $APP_DIR, $SERVICE, $*_TIMEOUT, $SETTLE, $MIN_UPTIME  the app settings (see script.ts)
 *   timed, timed_install   helpers (see script.ts)
 *   unit_invocation, unit_restarts   the service's systemd InvocationID and NRestarts
 * A body prints why it failed and exits non-zero; the runner records that.
 */

export interface StepDecl {
    name: string;
    /** Shell body, run in a subshell; see the variables above. */
    body: string;
    /** Whether a rollback repeats this step for the previous commit. */
    rollback: boolean;
}

/**
 * prepare: marks the VPS as updating (with a staleness bound) and remembers the commit
 * to roll back to: the last commit the fleet verified here (last-good), whatever HEAD
 * is (an interrupted attempt, a failed rollback or a hand checkout leaves HEAD on an
 * unverified commit); HEAD only on a VPS never verified. A VPS already on the commit,
 * verified in the running invocation of the service and active is left alone (the
 * attempt becomes a no-op).
 */
const prepare = `
[ -s "$A/started" ] || date +%s.%N > "$A/started"
now=$(date +%s)
printf '{"since":"%s","epoch":%s,"staleAfterEpoch":%s,"target":"%s","attempt":"%s"}\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$now" "$((now + MARKER_LIFETIME))" "$sha" "$attempt" > "$S/updating.tmp" && mv "$S/updating.tmp" "$S/updating" || exit 1
# A VPS provisioned moments ago may still be running cloud-init (cloning the app).
if [ -d /var/lib/cloud/instance ] && [ ! -e /var/lib/cloud/instance/boot-finished ] && command -v cloud-init >/dev/null; then
  echo "waiting for cloud-init to finish"; timeout 600 cloud-init status --wait >/dev/null
fi
head=$(cd "$APP_DIR" && git rev-parse HEAD) || { echo "$APP_DIR is not a git checkout"; exit 1; }
good=$(cat "$S/last-good" 2>/dev/null)
# "As verified" includes the service's invocation: a service restarted since its verify
# (by hand, or by systemd after a crash) is restarted and verified again.
verified=$(cut -d' ' -f1,2 "$S/verified" 2>/dev/null)
if [ "$head" = "$sha" ] && [ "$good" = "$sha" ] && [ "$(systemctl is-active "$SERVICE" 2>/dev/null)" = active ] && [ "$verified" = "$sha $(unit_invocation)" ]; then
  echo "$sha" > "$A/previous"; : > "$A/noop"; echo "already on $sha, verified and active: nothing to do"; exit 0
fi
if [ ! -s "$A/previous" ]; then
  if [ -n "$good" ]; then echo "$good" > "$A/previous"; else echo "$head" > "$A/previous"; fi
fi
echo "previous: $(cat "$A/previous")"`;

const fetch = `
cd "$APP_DIR" || exit 1
if ! git cat-file -e "$sha^{commit}" 2>/dev/null; then
  # A failed branch/tag fetch (a moved tag, say) is not fatal: the commit itself is tried next.
  timed "$FETCH_TIMEOUT" git fetch --quiet --tags origin || echo "git fetch --tags origin exited $?; fetching the commit itself"
  git cat-file -e "$sha^{commit}" 2>/dev/null || timed "$FETCH_TIMEOUT" git fetch --quiet origin "$sha" 2>/dev/null
  git cat-file -e "$sha^{commit}" 2>/dev/null || { echo "commit $sha is not in origin"; exit 1; }
fi
echo "have $sha"`;

const checkout = `
cd "$APP_DIR" || exit 1
git -c advice.detachedHead=false checkout --quiet --force --detach "$sha" || exit 1
head=$(git rev-parse HEAD); [ "$head" = "$sha" ] || { echo "HEAD is $head, not $sha, after checkout"; exit 1; }
echo "checked out $sha"`;

const install = `
cd "$APP_DIR" || exit 1
timed_install </dev/null || { rc=$?; [ $rc -eq 124 ] && echo "$INSTALL_WORDS timed out after \${INSTALL_TIMEOUT}s"; exit $rc; }
echo "installed"`;

const restart = `
timed "$RESTART_TIMEOUT" sudo -n systemctl restart "$SERVICE" </dev/null || { rc=$?; [ $rc -eq 124 ] && echo "systemctl restart timed out after \${RESTART_TIMEOUT}s"; exit $rc; }
echo "restarted $SERVICE"`;

/**
 * Not a fixed sleep: systemd is watched from the restart until the service has run the
 * settle window and MIN_UPTIME in one invocation. Under Restart=on-failure a crashed
 * service is restarted by systemd and can look `active` at any single check; a restart
 * shows as a new InvocationID (or NRestarts rising before it was ever seen active), which
 * fails verify whatever the crash's rhythm. Then HEAD and the health URL answering with
 * the commit. Records the verified commit and invocation in $S/verified (promotion re-check).
 */
const verify = `
ms() { date +%s%3N; }
restarts0=$(unit_restarts)
restarts_said() { [ "$1" = 1 ] && echo once || echo "$1 times"; }
deadline=$(( $(date +%s) + RESTART_TIMEOUT ))
while :; do
  st=$(systemctl is-active "$SERVICE" 2>/dev/null)
  [ "$st" = active ] && break
  [ "$st" = failed ] && { echo "$SERVICE is failed after restart"; exit 1; }
  n=$(unit_restarts)
  [ "\${n:-0}" -gt "\${restarts0:-0}" ] && { echo "$SERVICE is crash-looping: systemd restarted it $(restarts_said "$n") since the restart step (now '$st')"; exit 1; }
  [ $(date +%s) -ge $deadline ] && { echo "$SERVICE not active within \${RESTART_TIMEOUT}s (state: $st)"; exit 1; }
  sleep 0.5
done
inv=$(unit_invocation)
t0=$(ms)
# Watches until $1 seconds after the service was first seen active.
watch_until() {
  while [ $(( $(ms) - t0 )) -lt $(( $1 * 1000 )) ]; do
    sleep 0.5
    st=$(systemctl is-active "$SERVICE" 2>/dev/null)
    [ "$st" = active ] || { echo "$SERVICE was active but is '$st' $(( ($(ms) - t0) / 1000 ))s later, within the $2: it crashed after start"; exit 1; }
    [ "$(unit_invocation)" = "$inv" ] || { echo "$SERVICE restarted within the $2 (systemd has restarted it $(restarts_said "$(unit_restarts)")): it crashes after start"; exit 1; }
  done
}
watch_until "$SETTLE" "\${SETTLE}s settle window"
head=$(cd "$APP_DIR" && git rev-parse HEAD); [ "$head" = "$sha" ] || { echo "HEAD is $head, not $sha"; exit 1; }
if [ -n "$health" ]; then
  i=0
  while :; do
    body=$(curl -fsS --max-time 5 "$health" 2>&1) && break
    i=$((i+1)); [ $i -ge 5 ] && { echo "health check $health failed: $body"; exit 1; }
    sleep 1
  done
  # Quiet when healthy: a later failure's message must start with that failure.
  case "$body" in *"$sha"*) ;; *) echo "health check answered without commit $sha: $body"; exit 1 ;; esac
fi
watch_until "$MIN_UPTIME" "\${MIN_UPTIME}s minimum uptime"
# What the promotion re-check compares with: this commit, verified in this run of the service.
echo "$sha $inv $(date +%s)" > "$S/verified"
echo "verified $sha"`;

export const STEPS: readonly StepDecl[] = [
    { name: "prepare", body: prepare, rollback: false },
    { name: "fetch", body: fetch, rollback: false },
    { name: "checkout", body: checkout, rollback: true },
    { name: "install", body: install, rollback: true },
    { name: "restart", body: restart, rollback: true },
    { name: "verify", body: verify, rollback: true },
];

export const STEP_NAMES = STEPS.map((s) => s.name);
/** The step whose success makes the attempt's commit the VPS's last good one. */
export const VERIFYING_STEP = STEPS[STEPS.length - 1].name;
