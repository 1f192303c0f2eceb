#!/bin/sh
# The NEW image's pre-upgrade script. molt copies it into the OLD, still running container and
# runs it there with exactly two arguments: <old version> <new version>. Across a major
# version it makes the old server read-only and dumps every database, role and setting with
# its own pg_dumpall (the new on-disk format cannot read the old one) to the data volume,
# where the new version's post-upgrade script restores it. The old cluster's data files stay
# as they are, for a rollback.
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
umask 077  # the dump holds password hashes
mkdir -p "$root/upgrade"

# The dump needs about the size of the databases, the new cluster as much again.
used_kib=$(psql -X -At -h /run/postgresql -U postgres -d postgres -c 'SELECT (sum(pg_database_size(datname)) / 1024)::bigint FROM pg_database')
free_kib=$(df -Pk "$root" | awk 'NR==2 {print $4}')
if [ "$free_kib" -lt $((used_kib * 2)) ]; then
  echo "refusing: the upgrade needs about $((used_kib * 2 / 1024)) MiB free on the data volume ($root), only $((free_kib / 1024)) MiB are" >&2
  exit 1
fi

# A new-major cluster left on the volume by an earlier upgrade that was rolled back holds
# what was written then; this upgrade restores today's data, so it is set aside (not deleted).
if [ -e "$root/$new_major" ]; then
  aside=$root/$new_major.superseded-$(date -u +%Y%m%dT%H%M%SZ)
  mv "$root/$new_major" "$aside"
  echo "moved the PostgreSQL $new_major cluster of an earlier upgrade aside to $aside (delete it when you do not need it)"
fi

# From here on the old server takes no more writes, so the dump holds everything it ever
# acknowledged: new transactions are read-only and open sessions are ended (the server stops
# right after this script anyway). The setting lives in the running server only: it is
# removed from the configuration files again before this script ends (without a reload), so
# the old version starts writable after a rollback. If the dump fails, writes are allowed
# again at once.
sql() { psql -X -q -At -h /run/postgresql -U postgres -d postgres -c "$1"; }
trap 'sql "ALTER SYSTEM RESET default_transaction_read_only"; sql "SELECT pg_reload_conf()" >/dev/null; rm -f "$out.tmp"' EXIT
sql 'ALTER SYSTEM SET default_transaction_read_only = on'
sql 'SELECT pg_reload_conf()' >/dev/null
sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" >/dev/null

echo "PostgreSQL $old -> $new: dumping $((used_kib / 1024)) MiB of databases with pg_dumpall $(pg_dumpall --version | awk '{print $3}') (the old server is read-only from now on)"
pg_dumpall -h /run/postgresql -U postgres --no-password > "$out.tmp"
mv "$out.tmp" "$out"
trap - EXIT
sql 'ALTER SYSTEM RESET default_transaction_read_only'
echo "dumped the cluster to $out ($(wc -c < "$out") bytes)"
