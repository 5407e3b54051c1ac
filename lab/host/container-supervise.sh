#!/bin/bash
# Runs one lab host's container the way systemd-nspawn@.service would on a machine
# with systemd: boots it, and boots it again when it reboots itself (with
# --keep-unit nspawn exits 133 on a reboot and leaves the restart to its caller).
# usage: container-supervise.sh STATE_DIR CGROUP_DIR... -- systemd-nspawn ARGS...
# Each CGROUP_DIR is this host's own cgroup (one per mounted hierarchy): nspawn takes
# the cgroup it starts in as the container's, so two hosts must never share one.
set -u
state=$1; shift
cgroups=()
while [ "$1" != -- ]; do cgroups+=("$1"); shift; done
shift
child=
stop() { [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; echo "$(date -Is) stopped by the lab"; exit 0; }
trap stop TERM INT
while :; do
  ( for cg in "${cgroups[@]}"; do echo "$BASHPID" > "$cg/cgroup.procs" || exit 97; done; exec "$@" ) &
  child=$!
  echo "$child" > "$state/nspawn.pid"
  echo "$(date -Is) booting (nspawn pid $child)"
  wait "$child"; rc=$?
  if [ "$rc" = 133 ]; then echo "$(date -Is) the host rebooted itself; booting it again"; continue; fi
  echo "$(date -Is) container exited ($rc)"
  rm -f "$state/nspawn.pid"
  exit "$rc"
done
