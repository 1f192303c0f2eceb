#!/bin/sh
# The Valkey image's post-upgrade script: runs in the new container with <old> <new> before
# valkey-server starts (startup gate) and checks the RDB file the old server wrote with
# valkey-check-rdb. A file Valkey cannot read fails the upgrade and molt rolls back.
set -eu
[ "$#" -eq 2 ] || { echo "usage: post-upgrade.sh OLD NEW (got $# arguments)" >&2; exit 64; }
if [ ! -e /data/dump.rdb ]; then
  echo "no /data/dump.rdb: nothing to check (an empty data set)"
  exit 0
fi
valkey-check-rdb /data/dump.rdb
echo "$1 -> $2: /data/dump.rdb is readable by $(valkey-server --version | awk '{print $1, $2, $3}')"
