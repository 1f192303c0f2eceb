#!/bin/sh
# The Valkey image's post-upgrade script: runs in the new container with <old> <new> before
# valkey-server starts (startup gate) and checks the files the old server wrote: the
# append-only file (what Valkey loads) with valkey-check-aof and the RDB file with
# valkey-check-rdb. A file Valkey cannot read fails the upgrade and molt rolls back.
set -eu
[ "$#" -eq 2 ] || { echo "usage: post-upgrade.sh OLD NEW (got $# arguments)" >&2; exit 64; }
checked=
if [ -e /data/appendonlydir/appendonly.aof.manifest ]; then
  valkey-check-aof /data/appendonlydir/appendonly.aof.manifest
  checked="$checked /data/appendonlydir"
fi
if [ -e /data/dump.rdb ]; then
  valkey-check-rdb /data/dump.rdb
  checked="$checked /data/dump.rdb"
fi
server=$(valkey-server --version | awk '{print $1, $3}')
if [ -n "$checked" ]; then
  echo "$1 -> $2:$checked readable by $server"
else
  echo "$1 -> $2: no data files yet, nothing to check"
fi
