#!/bin/sh
# rachel-fleet's update lifecycle for one VPS. The fleet program reads this file, fills in
# the settings block below, and installs the result on the VPS under a name derived from
# its content (so a command naming it runs exactly this code). Never edited on the VPS.
#
# On-host layout:
#   $RELEASES/<sha>      one directory per release: a git worktree of $REPO with its own
#                        dependencies installed. Prepared beside the running one.
#   $APP_DIR             a symlink to the current release, switched with one rename(2);
#                        the unit's WorkingDirectory, so a (re)start always runs one whole
#                        release tree and a running process keeps the tree it started in.
#   $REPO                the bare repository every release is checked out from.
#   $STATE/...           attempts, the host lock, last-good, verified, the update marker.
#   $ENV_FILE            the subscriber's environment (NAME="value" lines, 0600), which the
#                        unit reads (EnvironmentFile=); each attempt brings its own copy.
#
# Subcommands (each one SSH exec; the step lists come from lifecycle/steps.ts):
#   provision <repo-url> <sha>           a new VPS's first release (cloud-init, the lab)
#   prepare <sha> <attempt> [--env]      the prepare steps only: nothing the service uses changes;
#                                        --env: the attempt's environment file arrives on stdin
#   update <sha> <attempt> [health]      every step in order, once per attempt
#   inspect <attempt>                    what the attempt left behind, as key=value lines
#   rollback <previous> <attempt> [health]  switch back to the previous release; no fetch, no install
#   conclude <attempt> <outcome> <good|-> [error-b64]  records the outcome; prunes
#   readback                             what the VPS runs now (takes no lock)
#   recheck [health]                     read-only: what the promotion re-check compares
#
# `update` never exits non-zero for a failed step (a failing Pulumi resource would stop the
# engine from starting other hosts): it records the failure in the attempt's directory and
# skips the rest; the version provider judges, and rolls back only a failed switch.
set -u

# --- settings: the program replaces this block with the stack's values, each quoted ---
STATE="$HOME/.rachel-fleet"
RELEASES="$HOME/releases"
REPO="$HOME/releases/.repo"
ENV_FILE="$HOME/.rachel-fleet/env"
APP_DIR=/home/rachel/rachel
SERVICE=rachel8
INSTALL_COMMAND="bun install"
FETCH_TIMEOUT=60
INSTALL_TIMEOUT=120
RESTART_TIMEOUT=30
SETTLE=5
MIN_UPTIME=10
MARKER_LIFETIME=900
LOCK_WAIT=900
RECHECK_LOCK_WAIT=10
KEEP_RELEASES=3
KEEP_ATTEMPTS=20
KEEP_SCRIPTS=5
PREPARE_STEPS="begin fetch build install"
SWITCH_STEPS="switch restart verify"
VERIFYING_STEP=verify
# --- end of settings ---

# Timeouts are enforced on the VPS: a command the SSH session gave up on would run on.
timed() { t=$1; shift; timeout -k 5 "$t" "$@"; }
# INSTALL_COMMAND is validated to be plain words (no shell metacharacters): split on purpose.
# shellcheck disable=SC2086
timed_install() { timeout -k 5 "$INSTALL_TIMEOUT" $INSTALL_COMMAND; }
# Empty where systemd cannot tell (no such property): comparisons then see no change.
unit_invocation() { systemctl show -p InvocationID --value "$SERVICE" 2>/dev/null; }
unit_restarts() { systemctl show -p NRestarts --value "$SERVICE" 2>/dev/null; }
unit_pid() { systemctl show -p MainPID --value "$SERVICE" 2>/dev/null; }
tail_line() { printf '%s' "$1" | tail -n 6 | tr '\n' ' '; }

release_dir() { echo "$RELEASES/$1"; }
prepared_mark() { echo "$STATE/prepared/$1"; }
# Prepared: installed, and still on its commit (a checkout by hand inside it undoes that).
is_prepared() {
  [ -e "$(prepared_mark "$1")" ] && [ "$(git -C "$(release_dir "$1")" rev-parse HEAD 2>/dev/null)" = "$1" ]
}
# The release APP_DIR points at (its directory), or empty while APP_DIR is a plain checkout.
current_release_dir() { [ -L "$APP_DIR" ] && readlink -f "$APP_DIR"; }

# The environment: an attempt's copy ($A/env) replaces ENV_FILE in its switch. A missing
# ENV_FILE is an empty environment. Variable names may be shown; values never are.
env_changed() { [ -e "$A/env" ] && ! cmp -s "$A/env" "$( [ -e "$ENV_FILE" ] && echo "$ENV_FILE" || echo /dev/null)"; }
env_names() { cut -d= -f1 "$1" | tr '\n' ' '; }
put_env() { (umask 077 && cp "$1" "$ENV_FILE.tmp") && mv -f "$ENV_FILE.tmp" "$ENV_FILE"; }
unit_reads_env() { systemctl show -p EnvironmentFiles --value "$SERVICE" 2>/dev/null | grep -qF "$ENV_FILE"; }

# The host lock: one fleet operation on this VPS at a time, whichever stack or run asks
# (an orphaned run of a killed `pulumi up` included). fd 9 holds it until the process ends.
take_lock() {
  mkdir -p "$STATE" || exit 1
  exec 9>>"$STATE/lock"
  if ! flock -w "$LOCK_WAIT" 9; then
    echo "another fleet operation has held this VPS's lock for over ${LOCK_WAIT}s ($(cat "$STATE/lock.holder" 2>/dev/null)); $1 did not run"
    exit 75
  fi
  printf '%s pid %s since %s\n' "$1" "$$" "$(date -u +%H:%M:%SZ)" > "$STATE/lock.holder"
}

# ---- the steps: each runs in a subshell with $sha, $attempt, $A and $health set ----

# The end of what cloud-init ran: the first release's own log when it got that far.
cloud_init_log_tail() {
  if [ -s "$STATE/provision.log" ]; then echo "its first release: $(tail_line "$(tail -n 6 "$STATE/provision.log")")"
  elif [ -r /var/log/cloud-init-output.log ]; then echo "the tail of /var/log/cloud-init-output.log: $(tail_line "$(tail -n 6 /var/log/cloud-init-output.log)")"
  else echo "its log, /var/log/cloud-init-output.log, is root's to read"; fi
}

# Marks the VPS as updating (with a staleness bound) and remembers the commit to roll back
# to: the last commit the fleet verified here (last-good), else HEAD. A VPS already on the
# commit, verified in the running invocation of the service and active, is left alone.
step_begin() {
  [ -s "$A/started" ] || date +%s.%N > "$A/started"
  now=$(date +%s)
  printf '{"since":"%s","epoch":%s,"staleAfterEpoch":%s,"target":"%s","attempt":"%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$now" "$((now + MARKER_LIFETIME))" "$sha" "$attempt" > "$STATE/updating.tmp" &&
    mv "$STATE/updating.tmp" "$STATE/updating" || exit 1
  # A VPS provisioned moments ago may still be running cloud-init (preparing its first release).
  if [ -d /var/lib/cloud/instance ] && command -v cloud-init >/dev/null; then
    if [ ! -e /var/lib/cloud/instance/boot-finished ]; then
      echo "waiting for cloud-init to finish"; timeout 600 cloud-init status --wait >/dev/null
    fi
    # Judged only before the VPS ever had a release: an old error on a long-running host is history.
    if [ ! -s "$STATE/last-good" ] && [ "$(cloud-init status 2>/dev/null | sed -n 's/^status: //p')" = error ]; then
      echo "cloud-init failed on this VPS: $(tail_line "$(cloud-init status --long 2>/dev/null | sed -n '/^detail:/,$p' | tail -n +2)") ($(cloud_init_log_tail))"
      exit 1
    fi
  fi
  head=$(cd "$APP_DIR" && git rev-parse HEAD) || { echo "$APP_DIR is not a git checkout"; exit 1; }
  if [ -s "$A/env" ] && ! unit_reads_env; then
    echo "$SERVICE does not read $ENV_FILE, so it would not see the subscriber's env: add EnvironmentFile=-$ENV_FILE to its [Service] section"; exit 1
  fi
  good=$(cat "$STATE/last-good" 2>/dev/null)
  # "As verified" includes the service's invocation: a service restarted since its verify
  # (by hand, or by systemd after a crash) is restarted and verified again.
  verified=$(cut -d' ' -f1,2 "$STATE/verified" 2>/dev/null)
  if [ "$head" = "$sha" ] && [ "$good" = "$sha" ] && [ "$(systemctl is-active "$SERVICE" 2>/dev/null)" = active ] &&
    [ "$verified" = "$sha $(unit_invocation)" ] && ! env_changed; then
    echo "$sha" > "$A/previous"; : > "$A/noop"; echo "already on $sha, verified and active: nothing to do"; exit 0
  fi
  if [ ! -s "$A/previous" ]; then
    if [ -n "$good" ]; then echo "$good" > "$A/previous"; else echo "$head" > "$A/previous"; fi
  fi
  echo "previous: $(cat "$A/previous")"
}

# The bare repository releases are checked out from. A VPS still in the old layout (a plain
# checkout at APP_DIR) seeds it from that checkout, so no network is needed for what it has.
ensure_repo() {
  [ -d "$REPO" ] && return 0
  url=${1:-$(git -C "$APP_DIR" remote get-url origin 2>/dev/null)}
  [ -n "$url" ] || { echo "no origin URL: $APP_DIR has no git remote 'origin'"; return 1; }
  mkdir -p "$RELEASES" && git init --quiet --bare "$REPO.tmp.$$" &&
    git -C "$REPO.tmp.$$" remote add origin "$url" || return 1
  if [ -d "$APP_DIR/.git" ] || [ -f "$APP_DIR/.git" ]; then
    git -C "$REPO.tmp.$$" fetch --quiet "$APP_DIR" '+refs/tags/*:refs/tags/*' '+HEAD:refs/fleet/seed' ||
      { rm -rf "$REPO.tmp.$$"; echo "could not seed $REPO from $APP_DIR"; return 1; }
  fi
  mv "$REPO.tmp.$$" "$REPO"
}

step_fetch() {
  ensure_repo || exit 1
  if ! git -C "$REPO" cat-file -e "$sha^{commit}" 2>/dev/null; then
    # A failed branch/tag fetch (a moved tag, say) is not fatal: the commit itself is tried next.
    timed "$FETCH_TIMEOUT" git -C "$REPO" fetch --quiet --tags origin || echo "git fetch --tags origin exited $?; fetching the commit itself"
    git -C "$REPO" cat-file -e "$sha^{commit}" 2>/dev/null || timed "$FETCH_TIMEOUT" git -C "$REPO" fetch --quiet origin "$sha" 2>/dev/null
    git -C "$REPO" cat-file -e "$sha^{commit}" 2>/dev/null || { echo "commit $sha is not in origin ($(git -C "$REPO" remote get-url origin))"; exit 1; }
  fi
  echo "have $sha"
}

# The release's own directory, beside the running one. A half-built one (an interrupted
# prepare) is built again; the running release is never touched.
step_build() {
  dir=$(release_dir "$sha")
  if is_prepared "$sha"; then echo "release $sha is already prepared in $dir"; exit 0; fi
  if [ -e "$dir" ] && [ "$(current_release_dir)" = "$dir" ]; then
    # The running release, moved off its commit by hand (drift): put back in place, as the
    # restart that follows will run it; removing it would leave APP_DIR pointing at nothing.
    rm -f "$(prepared_mark "$sha")"
    git -C "$dir" -c advice.detachedHead=false checkout --quiet --force --detach "$sha" || exit 1
    echo "put the running release $dir back on $sha (it was moved by hand)"; exit 0
  fi
  rm -rf "$dir" || exit 1
  git -C "$REPO" worktree prune
  git -C "$REPO" worktree add --quiet --detach "$dir" "$sha" 2>&1 || exit 1
  head=$(git -C "$dir" rev-parse HEAD); [ "$head" = "$sha" ] || { echo "HEAD is $head, not $sha, in $dir"; exit 1; }
  echo "checked out $sha in $dir"
}

step_install() {
  is_prepared "$sha" && { echo "release $sha is already installed"; exit 0; }
  cd "$(release_dir "$sha")" || exit 1
  timed_install </dev/null || { rc=$?; [ $rc -eq 124 ] && echo "$INSTALL_COMMAND timed out after ${INSTALL_TIMEOUT}s"; exit $rc; }
  mkdir -p "$STATE/prepared" && date +%s > "$(prepared_mark "$sha")" || exit 1
  echo "installed"
}

# A plain checkout at APP_DIR (the layout before release directories) becomes the release
# directory of its HEAD. The running process keeps its tree (its cwd follows the rename);
# the symlink takes the old path at once after, so nothing else ever runs there.
migrate_plain_checkout() {
  [ -d "$APP_DIR" ] && [ ! -L "$APP_DIR" ] || return 0
  head=$(git -C "$APP_DIR" rev-parse HEAD) || { echo "$APP_DIR is not a git checkout"; return 1; }
  dir=$(release_dir "$head")
  [ -e "$dir" ] && { echo "cannot migrate $APP_DIR: $dir exists"; return 1; }
  mkdir -p "$RELEASES" "$STATE/prepared" || return 1
  mv "$APP_DIR" "$dir" && point_app_dir_at "$dir" || return 1
  date +%s > "$(prepared_mark "$head")"
  echo "migrated the plain checkout at $APP_DIR to $dir"
}

# ln + rename: APP_DIR names the old release or the new one, never nothing or a mix.
point_app_dir_at() {
  if ! { ln -s "$1" "$APP_DIR.new.$$" && mv -T "$APP_DIR.new.$$" "$APP_DIR"; }; then rm -f "$APP_DIR.new.$$"; return 1; fi
}

step_switch() {
  is_prepared "$sha" || { echo "release $sha is not prepared"; exit 1; }
  migrate_plain_checkout || exit 1
  point_app_dir_at "$(release_dir "$sha")" || exit 1
  # Releases are pruned by when they last ran, newest kept.
  touch "$(prepared_mark "$sha")"
  echo "switched $APP_DIR to $(release_dir "$sha")"
  [ -n "${ROLLING_BACK:-}" ] || install_env || exit 1
}

# The attempt's environment file in place of ENV_FILE, the one it replaces kept for a rollback.
install_env() {
  env_changed || return 0
  if [ ! -e "$A/env.previous" ] && [ ! -e "$A/env.none" ]; then
    if [ -e "$ENV_FILE" ]; then cp -p "$ENV_FILE" "$A/env.previous"; else : > "$A/env.none"; fi || return 1
  fi
  put_env "$A/env" || { echo "could not install $ENV_FILE"; return 1; }
  echo "installed $ENV_FILE: $(env_names "$A/env")"
}

# A rollback puts back the environment the attempt's switch replaced, if it replaced one.
restore_env() {
  if [ -e "$A/env.previous" ]; then
    put_env "$A/env.previous" && echo "rollback env: restored the previous $ENV_FILE"
  elif [ -e "$A/env.none" ]; then
    rm -f "$ENV_FILE" && echo "rollback env: removed $ENV_FILE (there was none before)"
  fi
}

step_restart() {
  timed "$RESTART_TIMEOUT" sudo -n systemctl restart "$SERVICE" </dev/null ||
    { rc=$?; [ $rc -eq 124 ] && echo "systemctl restart timed out after ${RESTART_TIMEOUT}s"; exit $rc; }
  echo "restarted $SERVICE"
}

ms() { date +%s%3N; }
restarts_said() { if [ "$1" = 1 ]; then echo once; else echo "$1 times"; fi; }

# Watches until $1 seconds after the service was first seen active (at $t0, invocation $inv).
watch_until() {
  while [ $(($(ms) - t0)) -lt $(($1 * 1000)) ]; do
    sleep 0.5
    st=$(systemctl is-active "$SERVICE" 2>/dev/null)
    [ "$st" = active ] || { echo "$SERVICE was active but is '$st' $((($(ms) - t0) / 1000))s later, within the $2: it crashed after start"; exit 1; }
    [ "$(unit_invocation)" = "$inv" ] || { echo "$SERVICE restarted within the $2 (systemd has restarted it $(restarts_said "$(unit_restarts)")): it crashes after start"; exit 1; }
  done
}

# Not a fixed sleep: systemd is watched from the restart until the service has run the
# settle window and MIN_UPTIME in one invocation (a crash restarted by systemd shows as a
# new InvocationID, or NRestarts rising before it was ever seen active). Then the process
# runs in the release's directory, HEAD and the health URL answer with the commit.
step_verify() {
  restarts0=$(unit_restarts)
  deadline=$(($(date +%s) + RESTART_TIMEOUT))
  while :; do
    st=$(systemctl is-active "$SERVICE" 2>/dev/null)
    [ "$st" = active ] && break
    [ "$st" = failed ] && { echo "$SERVICE is failed after restart"; exit 1; }
    n=$(unit_restarts)
    [ "${n:-0}" -gt "${restarts0:-0}" ] && { echo "$SERVICE is crash-looping: systemd restarted it $(restarts_said "$n") since the restart step (now '$st')"; exit 1; }
    [ "$(date +%s)" -ge $deadline ] && { echo "$SERVICE not active within ${RESTART_TIMEOUT}s (state: $st)"; exit 1; }
    sleep 0.5
  done
  inv=$(unit_invocation)
  t0=$(ms)
  watch_until "$SETTLE" "${SETTLE}s settle window"
  pid=$(unit_pid)
  if [ "${pid:-0}" -gt 0 ] && cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null); then
    [ "$cwd" = "$(readlink -f "$(release_dir "$sha")")" ] || { echo "$SERVICE runs in $cwd, not in the release directory $(release_dir "$sha")"; exit 1; }
  fi
  head=$(cd "$APP_DIR" && git rev-parse HEAD); [ "$head" = "$sha" ] || { echo "HEAD is $head, not $sha"; exit 1; }
  if [ -n "$health" ]; then
    i=0
    while :; do
      body=$(curl -fsS --max-time 5 "$health" 2>&1) && break
      i=$((i + 1)); [ $i -ge 5 ] && { echo "health check $health failed: $body"; exit 1; }
      sleep 1
    done
    # Quiet when healthy: a later failure's message must start with that failure.
    case "$body" in *"$sha"*) ;; *) echo "health check answered without commit $sha: $body"; exit 1 ;; esac
  fi
  watch_until "$MIN_UPTIME" "${MIN_UPTIME}s minimum uptime"
  # What the promotion re-check compares with: this commit, verified in this run of the service.
  echo "$sha $inv $(date +%s)" > "$STATE/verified"
  echo "verified $sha"
}

# ---- running steps ----

run_step() {
  name=$1
  [ -e "$A/failed" ] && return 0
  [ -e "$A/noop" ] && return 0
  [ -e "$A/done-$name" ] && { echo "$name: already done in this attempt"; return 0; }
  echo "$name ..."
  echo "$name" > "$A/step"
  t0=$(date +%s.%N)
  # fd 9 (the host lock) is closed for the body, so a service it starts cannot inherit it.
  out=$( ("step_$name") 9>&- 2>&1); rc=$?
  printf '%s\n' "$out" > "$A/log-$name"
  echo "$t0 $(date +%s.%N)" > "$A/time-$name"
  if [ $rc -ne 0 ]; then
    printf '%s failed (exit %s): %s\n' "$name" "$rc" "$(tail_line "$out")" > "$A/failed"
    echo "$name FAILED (exit $rc): $(tail_line "$out")"
  else
    : > "$A/done-$name"
    [ "$name" = "$VERIFYING_STEP" ] && echo "$sha" > "$A/verified"
    echo "$name: $(printf '%s' "$out" | tail -n 1)"
  fi
}

# Sets sha, attempt, health, A for the steps; refuses an attempt already concluded.
open_attempt() {
  sha=$1; attempt=$2; health=${3:-}; A="$STATE/attempts/$attempt"
  if [ -e "$A/finished" ]; then echo "attempt $attempt was concluded earlier ($(cat "$A/outcome" 2>/dev/null)): nothing to run"; return 1; fi
  mkdir -p "$A" || exit 1
}

cmd_prepare() {
  take_lock "prepare of attempt $2"
  open_attempt "$1" "$2" || { echo "prepare of attempt $2 ended"; return 0; }
  if [ "${3:-}" = --env ] && ! { (umask 077 && cat > "$A/env.tmp") && mv -f "$A/env.tmp" "$A/env"; }; then
    echo "could not write $A/env"; exit 1
  fi
  for step in $PREPARE_STEPS; do run_step "$step"; done
  [ -e "$A/failed" ] && echo "prepare of attempt $attempt failed: the service was not touched"
  # The program takes a run without this last line as cut off (a reboot kills it midway).
  echo "prepare of attempt $attempt ended"
}

cmd_update() {
  take_lock "update of attempt $2"
  open_attempt "$@" || return 0
  for step in $PREPARE_STEPS $SWITCH_STEPS; do run_step "$step"; done
  [ -e "$A/failed" ] && echo "attempt $attempt failed: the fleet judges it (a failed switch is rolled back)"
  [ -e "$A/noop" ] && echo "nothing to do: already on $sha"
  return 0
}

cmd_inspect() {
  A="$STATE/attempts/$1"
  # Waits for a run of the attempt that lost its SSH session: judge what it left, not what it is doing.
  take_lock "inspect of attempt $1"
  echo "head=$(git -C "$APP_DIR" rev-parse HEAD 2>/dev/null)"
  echo "active=$(systemctl is-active "$SERVICE" 2>/dev/null)"
  echo "previous=$(cat "$A/previous" 2>/dev/null)"
  echo "verified=$(cat "$A/verified" 2>/dev/null)"
  echo "noop=$([ -e "$A/noop" ] && echo 1 || echo 0)"
  echo "step=$(cat "$A/step" 2>/dev/null)"
  echo "ran=$([ -d "$A" ] && echo 1 || echo 0)"
  echo "failed=$(base64 -w0 "$A/failed" 2>/dev/null)"
  echo "lastgood=$(cat "$STATE/last-good" 2>/dev/null)"
  echo "outcome=$(cat "$A/outcome" 2>/dev/null)"
  echo "error=$(base64 -w0 "$A/error" 2>/dev/null)"
  for f in "$A"/time-*; do [ -e "$f" ] && echo "$(basename "$f")=$(awk '{printf "%.3f", $2 - $1}' "$f")"; done
}

# Back to the previous release's directory: switch, restart, verify. Its directory is kept
# (never pruned while it is the previous), so no fetch and no install; only a VPS that lost
# it prepares it again first.
cmd_rollback() {
  take_lock "rollback to $1"
  sha=$1; attempt=$2; health=${3:-}; A="$STATE/attempts/$attempt"
  # An orphaned run of this attempt waiting for the lock must not go on after the rollback.
  mkdir -p "$A" && { [ -e "$A/failed" ] || echo "rolled back before the attempt ended" > "$A/failed"; }
  echo "rolling back to $sha"
  ROLLING_BACK=1
  restore_env || { echo "rollback env failed: could not put back $ENV_FILE"; exit 1; }
  steps=$SWITCH_STEPS
  is_prepared "$sha" || { echo "release $sha is not on this VPS any more: preparing it first"; steps="fetch build install $SWITCH_STEPS"; }
  for step in $steps; do
    out=$( ("step_$step") 9>&- 2>&1) || { printf 'rollback %s failed: %s\n' "$step" "$(tail_line "$out")"; exit 1; }
    echo "rollback $step: $(printf '%s' "$out" | tail -n 1)"
  done
  echo "rolled back to $sha"
}

# Releases kept: the KEEP_RELEASES that were prepared or switched to last, and always the current, last-good
# and the attempt's previous one, and any a process still runs in.
prune_releases() {
  keep=" $(basename "$(current_release_dir)" 2>/dev/null) $(cat "$STATE/last-good" 2>/dev/null) $(cat "$1/previous" 2>/dev/null) "
  for p in /proc/[0-9]*/cwd; do
    cwd=$(readlink "$p" 2>/dev/null) || continue
    case "$cwd" in "$RELEASES"/*) keep="$keep $(echo "${cwd#"$RELEASES"/}" | cut -d/ -f1) " ;; esac
  done
  n=0
  # shellcheck disable=SC2045 # the names are commit SHAs; newest first needs ls -t
  for mark in $(ls -1t "$STATE/prepared" 2>/dev/null); do
    n=$((n + 1))
    [ $n -le "$KEEP_RELEASES" ] && continue
    case "$keep" in *" $mark "*) continue ;; esac
    rm -f "$STATE/prepared/$mark" && rm -rf "${RELEASES:?}/$mark" && echo "pruned release $mark"
  done
  [ -d "$REPO" ] && git -C "$REPO" worktree prune
}

cmd_conclude() {
  take_lock "conclude of attempt $1"
  A="$STATE/attempts/$1"
  [ "$3" != - ] && echo "$3" > "$STATE/last-good"
  if [ -d "$A" ]; then
    echo "$2" > "$A/outcome"; printf '%s' "${4:-}" | base64 -d > "$A/error" 2>/dev/null
    # A concluded attempt is never rolled back: no copy of a subscriber's env outlives it.
    rm -f "$A/env" "$A/env.previous" "$A/env.tmp"
    date +%s.%N > "$A/finished"
  fi
  rm -f "$STATE/updating"
  prune_releases "$A"
  # shellcheck disable=SC2012 # names are the fleet's own: no newlines or odd characters
  ls -1dt "$STATE"/attempts/* 2>/dev/null | tail -n +$((KEEP_ATTEMPTS + 1)) | xargs -r rm -rf
  # shellcheck disable=SC2012
  ls -1t "$STATE"/bin/lifecycle-*.sh 2>/dev/null | tail -n +$((KEEP_SCRIPTS + 1)) | xargs -r rm -f
  echo concluded
}

cmd_readback() {
  echo "head=$(git -C "$APP_DIR" rev-parse HEAD 2>/dev/null)"
  echo "active=$(systemctl is-active "$SERVICE" 2>/dev/null)"
  echo "lastgood=$(cat "$STATE/last-good" 2>/dev/null)"
  echo "marker=$(base64 -w0 "$STATE/updating" 2>/dev/null)"
  echo "release=$(current_release_dir)"
}

# A new VPS's first release, in the release layout from the start: run once by cloud-init
# (as the service user, before the unit starts) and by the lab.
# Its output is also kept where the service user can read it (cloud-init's own log is
# root's): a fleet operation that finds cloud-init failed quotes it.
cmd_provision() {
  out=$(provision_release "$@" 2>&1); rc=$?
  printf '%s\n' "$out" | tee "$STATE/provision.log"
  return $rc
}

provision_release() {
  # No host lock: this runs inside cloud-init, which a fleet operation waits for (in begin)
  # while it holds the lock; nothing else touches a VPS before its cloud-init is done.
  sha=$2; attempt=provision; health=""
  ensure_repo "$1" || exit 1
  for step in fetch build install; do
    out=$( ("step_$step") 9>&- 2>&1) || { printf 'provision %s failed: %s\n' "$step" "$(tail_line "$out")"; exit 1; }
  done
  [ -e "$APP_DIR" ] && [ ! -L "$APP_DIR" ] && { echo "$APP_DIR exists and is not a release symlink"; exit 1; }
  point_app_dir_at "$(release_dir "$sha")" || exit 1
  echo "$sha" > "$STATE/last-good"
  echo "provisioned $sha in $(release_dir "$sha")"
}

# Prints only; never changes the VPS (run from stdin, so not even the script is installed).
# It waits briefly for the host lock, shared, so it never reads a VPS in the middle of an update.
cmd_recheck() {
  health=${1:-}
  if [ -e "$STATE/lock" ]; then
    exec 9<"$STATE/lock"
    flock -s -w "$RECHECK_LOCK_WAIT" 9 || { echo "locked=$(base64 -w0 "$STATE/lock.holder" 2>/dev/null)"; return 0; }
  fi
  echo "head=$(git -C "$APP_DIR" rev-parse HEAD 2>/dev/null)"
  echo "active=$(systemctl is-active "$SERVICE" 2>/dev/null)"
  echo "invocation=$(unit_invocation)"
  echo "restarts=$(unit_restarts)"
  echo "verified=$(cat "$STATE/verified" 2>/dev/null)"
  echo "marker=$(base64 -w0 "$STATE/updating" 2>/dev/null)"
  if [ -n "$health" ]; then
    body=$(curl -fsS --max-time 5 "$health" 2>&1); echo "healthrc=$?"
    echo "health=$(printf '%s' "$body" | head -c 400 | base64 -w0)"
  fi
}

case "${1:-}" in
  recheck) shift; cmd_recheck "$@" ;;
  provision|prepare|update|inspect|rollback|conclude|readback)
    mkdir -p "$STATE" || exit 1; c=$1; shift; "cmd_$c" "$@" ;;
  *) echo "usage: $0 provision|prepare|update|inspect|rollback|conclude|readback|recheck ..." >&2; exit 2 ;;
esac
