#!/bin/sh
# The Valkey image's pre-upgrade script. molt runs it in the OLD (Redis) container with
# <old> <new>: it makes the server write its whole data set to /data/dump.rdb now (SAVE) and
# checks the file's format version (the append-only file's base is written in the same one). Valkey 8 reads RDB files up to version 11 (Redis 7.2); Redis 7.4 and later
# write version 12, which it cannot load, so those are refused here, with the old version
# left running.
set -eu
[ "$#" -eq 2 ] || { echo "usage: pre-upgrade.sh OLD NEW (got $# arguments)" >&2; exit 64; }
cli=$(command -v redis-cli || command -v valkey-cli)
keys=$("$cli" -h 127.0.0.1 dbsize)
reply=$("$cli" -h 127.0.0.1 save)
[ "$reply" = OK ] || { echo "SAVE failed: $reply" >&2; exit 1; }
rdb_version=$(head -c 9 /data/dump.rdb | tail -c 4)
case "$rdb_version" in
  00[0-9][0-9]) [ "$rdb_version" -le 11 ] || { echo "refusing: /data/dump.rdb has RDB version $rdb_version; Valkey reads up to 11 (Redis 7.2)" >&2; exit 1; } ;;
  *) echo "refusing: /data/dump.rdb is not an RDB file" >&2; exit 1 ;;
esac
echo "$1 -> $2: saved $keys keys to /data/dump.rdb (RDB version $rdb_version, $(wc -c < /data/dump.rdb) bytes)"
