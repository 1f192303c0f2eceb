#!/bin/sh
# The NEW image's pre-upgrade script. molt copies it into the OLD, still running container and
# runs it there with exactly two arguments: <old version> <new version>. Across a major
# version it dumps every database, role and setting with the OLD server's own pg_dumpall
# (the new on-disk format cannot read the old one) to the data volume, where the new
# version's post-upgrade script restores it. It writes nothing else: the old cluster stays
# as it is, for a rollback.
set -eu
[ "$#" -eq 2 ] || { echo "usage: pre-upgrade.sh OLD NEW (got $# arguments)" >&2; exit 64; }
old=$1 new=$2
old_major=${old%%.*} new_major=${new%%.*}
if [ "$old_major" = "$new_major" ]; then
  echo "PostgreSQL $old -> $new: same major version, the cluster is kept as it is"
  exit 0
fi
if [ "$old_major" -gt "$new_major" ]; then
  echo "refusing: PostgreSQL cannot go down from major $old_major to $new_major (restore a backup instead)" >&2
  exit 1
fi
root=/var/lib/postgresql
out=$root/upgrade/$old-to-$new.sql
mkdir -p "$root/upgrade"

# The dump needs about the size of the databases, the new cluster as much again.
used=$(psql -X -At -h /run/postgresql -U postgres -d postgres -c 'SELECT sum(pg_database_size(datname)) FROM pg_database')
free=$(df -Pk "$root" | awk 'NR==2 {print $4 * 1024}')
if [ "$free" -lt $((used * 2)) ]; then
  echo "refusing: the upgrade needs about $((used * 2 / 1048576)) MiB free on the data volume ($root), only $((free / 1048576)) MiB are" >&2
  exit 1
fi

echo "PostgreSQL $old -> $new: dumping $((used / 1048576)) MiB of databases with pg_dumpall $(pg_dumpall --version | awk '{print $NF}')"
pg_dumpall -h /run/postgresql -U postgres --no-password > "$out.tmp"
mv "$out.tmp" "$out"
echo "dumped $(grep -c '^\\connect' "$out") databases to $out ($(wc -c < "$out") bytes)"
