#!/bin/sh
# ledger 2.x: "# ledger format B" header, then "entry;amount" lines in ledger.b.
# molt's startup gate: while an upgrade's post-upgrade script has not finished, wait.
set -e
trap 'exit 0' TERM INT
if [ -e /.molt/upgrade ]; then
  echo "ledger $LEDGER_VERSION: waiting for the post-upgrade migration" >&2
  while [ ! -e /.molt/upgrade-done ]; do sleep 0.1; done
fi
if [ ! -e /var/lib/ledger/ledger.b ]; then
  mkdir -p /var/lib/ledger
  echo "# ledger format B" > /var/lib/ledger/ledger.b
fi
head -1 /var/lib/ledger/ledger.b | grep -q '^# ledger format B$' || { echo "ledger.b is not format B" >&2; exit 2; }
echo "$(date +%s) start $LEDGER_VERSION" >> /var/lib/ledger/events
touch /tmp/ready
while true; do sleep 1 & wait $!; done
