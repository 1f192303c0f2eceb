#!/bin/sh
# Creates an empty PostgreSQL $PG_MAJOR cluster in $1 that accepts password (SCRAM)
# connections from the network and trusts only the container's own unix socket.
# The superuser's password comes from POSTGRES_PASSWORD_FILE or POSTGRES_PASSWORD; without
# one (an upgrade: the restored dump brings the old cluster's roles and passwords) the
# cluster starts with no network login until the dump sets it.
set -eu
pgdata=${1:?usage: initdb.sh DATADIR}
password=
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  password=$(cat "$POSTGRES_PASSWORD_FILE")
elif [ -n "${POSTGRES_PASSWORD:-}" ]; then
  password=$POSTGRES_PASSWORD
elif [ "${2:-}" != --no-password ]; then
  echo "postgres $PG_MAJOR: no cluster yet and no superuser password: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" >&2
  exit 1
fi

as_postgres() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi; }
mkdir -p "$pgdata"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$pgdata" "$(dirname "$pgdata")"
chmod 700 "$pgdata"
pwfile=
if [ -n "$password" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$password" > "$pwfile"
  [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
fi
as_postgres initdb --pgdata="$pgdata" --username=postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-instructions ${pwfile:+--pwfile="$pwfile"} >&2
[ -n "$pwfile" ] && rm -f "$pwfile"
cat > "$pgdata/pg_hba.conf" <<'HBA'
# TYPE  DATABASE  USER  ADDRESS  METHOD
local   all       all            trust
host    all       all   all      scram-sha-256
HBA
echo "listen_addresses = '*'" >> "$pgdata/postgresql.conf"
echo "postgres $PG_MAJOR: created a cluster in $pgdata" >&2
