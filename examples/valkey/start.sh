#!/bin/sh
# Redis (bookworm image) or Valkey (trixie image) in a container, for molt: the image sets
# KV_SERVER (redis-server | valkey-server) and KV_USER. Data: the append-only file in
# /data/appendonlydir (every write, flushed to disk every second; it is what the server loads
# at start) and /data/dump.rdb (saved every minute when anything changed and at every stop).
# The volume's files then always hold nearly all data, also in molt's volume snapshots.
# Extra server options, e.g. `--maxmemory 256mb`, come from KV_ARGS.
set -eu
: "${KV_SERVER:?KV_SERVER must be set by the image}" "${KV_USER:?KV_USER must be set by the image}"

# molt's startup gate: wait until the post-upgrade script has checked the data.
if [ -e /.molt/upgrade ]; then
  echo "$KV_SERVER: waiting for the upgrade's post-upgrade script ($(cat /.molt/upgrade))" >&2
  while [ ! -e /.molt/upgrade-done ]; do sleep 0.2; done
fi

set -- --bind 0.0.0.0 --protected-mode no --dir /data --dbfilename dump.rdb \
  --save 60 1 --appendonly yes --appendfsync everysec --daemonize no ${KV_ARGS:-}
mkdir -p /data
if [ "$(id -u)" = 0 ]; then
  # An RDB written by the other image's server belongs to that image's user.
  find /data -xdev ! -user "$KV_USER" -exec chown "$KV_USER:$KV_USER" {} +
  exec setpriv --reuid="$KV_USER" --regid="$KV_USER" --init-groups "$KV_SERVER" "$@"
fi
exec "$KV_SERVER" "$@"
