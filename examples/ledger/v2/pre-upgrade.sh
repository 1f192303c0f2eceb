#!/bin/sh
# Runs in the OLD (1.x) container with exactly two arguments: <old version> <new version>.
# Exports the format-A ledger for the new version's post-upgrade script.
set -e
[ "$#" -eq 2 ] || { echo "usage: pre-upgrade.sh OLD NEW (got $# arguments)" >&2; exit 64; }
echo "pre-upgrade argv: $#|$1|$2" >> /var/lib/ledger/script-log
case "$1" in
  1.*) ;;
  *) echo "refusing: can only upgrade from 1.x, not from $1" >&2; exit 1 ;;
esac
cp /var/lib/ledger/ledger.txt "/var/lib/ledger/export-for-$2.txt"
echo "exported $(wc -l < /var/lib/ledger/ledger.txt) entries for $2"
