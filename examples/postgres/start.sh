#!/bin/sh
# PostgreSQL $PG_MAJOR in a container, for molt. The data volume is /var/lib/postgresql; each
# major version keeps its own cluster in /var/lib/postgresql/$PG_MAJOR/data, so an upgrade
# builds the new cluster beside the old one and a rollback finds the old one untouched.
set -eu
: "${PG_MAJOR:?PG_MAJOR must be set by the image}"
root=/var/lib/postgresql
pgdata=$root/$PG_MAJOR/data

# molt's startup gate: during an upgrade, wait until the post-upgrade script has restored the
# dump into the new cluster; the server must never start on an empty or half-restored cluster.
if [ -e /.molt/upgrade ]; then
  echo "postgres $PG_MAJOR: waiting for the upgrade's post-upgrade script ($(cat /.molt/upgrade))" >&2
  while [ ! -e /.molt/upgrade-done ]; do sleep 0.2; done
fi

if [ ! -s "$pgdata/PG_VERSION" ]; then
  for other in "$root"/*/data/PG_VERSION; do
    [ -e "$other" ] || continue
    echo "postgres $PG_MAJOR: refusing to create a new cluster: $other holds a PostgreSQL $(cat "$other") cluster." >&2
    echo "Change the major version with molt (the new image's pre-upgrade dumps it, its post-upgrade restores it)." >&2
    exit 1
  done
  /opt/postgres/initdb.sh "$pgdata"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p /run/postgresql
  chown postgres:postgres /run/postgresql
  # Files restored by a rollback or made by another image can have another owner.
  find "$root" -xdev ! -user postgres -exec chown postgres:postgres {} +
  exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$pgdata"
fi
exec postgres -D "$pgdata"
