#!/bin/bash
# Runs as the first process of a lab host's private mount namespace (under
# `unshare --mount --propagation private`). It lays the host's own directories
# over the production paths, then stays alive so the namespace (and the mounts)
# outlive any single sshd: faults stop and start sshd inside it.
set -eu
host_dir=$1
usr_local=$2
label=$3
# A tmpfs /home so /home/rachel can be a mount point without creating it on the real disk.
mount -t tmpfs -o mode=0755,size=1m "$label" /home
mkdir /home/rachel
mount --bind "$host_dir/home" /home/rachel
mount --bind "$host_dir/run" /run
mount --bind "$host_dir/tmp" /tmp
mount --bind "$host_dir/var-log" /var/log
mount --bind "$usr_local" /usr/local
mount -o remount,bind,ro /usr/local
echo $$ > "$host_dir/holder.pid"
exec sleep infinity
