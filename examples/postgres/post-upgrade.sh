#!/bin/sh
# The NEW image's post-upgrade script: runs in the new container with <old> <new> while its
# start script waits behind molt's startup gate. Across a major version it creates the new
# cluster in /var/lib/postgresql/NEW_MAJOR/data beside the old one and restores the dump the
# pre-upgrade script made, on a private socket (no client can connect meanwhile), stopping at
# the first error. Idempotent: after success it does nothing; after a crash half-way it
# starts the new cluster over. A failure makes molt roll back: the old cluster was never
# touched, and molt restores the volume's snapshot anyway.
set -eu
[ "$#" -eq 2 ] || { echo "usage: post-upgrade.sh OLD NEW (got $# arguments)" >&2; exit 64; }
old=$1 new=$2
old_major=${old%%.*} new_major=${new%%.*}
[ "$old_major" = "$new_major" ] && { echo "same major version: nothing to restore"; exit 0; }
root=/var/lib/postgresql
dump=$root/upgrade/$old-to-$new.sql
pgdata=$root/$new_major/data
done_marker=$root/$new_major/restored-from-$old
busy_marker=$root/$new_major/restore-in-progress
[ -e "$done_marker" ] && { echo "already restored from $old"; exit 0; }
[ -s "$dump" ] || { echo "no dump at $dump: the pre-upgrade script did not run or failed" >&2; exit 1; }

as_postgres() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi; }
if [ -e "$pgdata" ]; then
  [ -e "$busy_marker" ] || { echo "refusing: $pgdata exists and was not made by an earlier attempt of this script" >&2; exit 1; }
  [ -e "$pgdata/postmaster.pid" ] && as_postgres pg_ctl -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pgdata"
fi
mkdir -p "$root/$new_major"
touch "$busy_marker"
/opt/postgres/initdb.sh "$pgdata" --no-password

socket=$(mktemp -d)
[ "$(id -u)" = 0 ] && chown postgres "$socket" "$root/upgrade"
stop_server() { as_postgres pg_ctl -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$socket"; }
trap stop_server EXIT
as_postgres pg_ctl -D "$pgdata" -w -t 300 -l "$root/upgrade/restore-$new.log" \
  -o "-c listen_addresses='' -c unix_socket_directories='$socket'" start >/dev/null
echo "restoring $dump into PostgreSQL $(postgres --version | awk '{print $3}')"
# The dump re-creates the role it was made as; that role exists in every new cluster.
sed '/^CREATE ROLE postgres;$/d' "$dump" \
  | as_postgres psql -X -q -v ON_ERROR_STOP=1 -h "$socket" -U postgres -d postgres >/dev/null
echo "restored $(as_postgres psql -X -At -h "$socket" -U postgres -d postgres -c 'SELECT count(*) FROM pg_database WHERE NOT datistemplate') databases"
stop_server
trap - EXIT
touch "$done_marker"
rm -f "$busy_marker"
