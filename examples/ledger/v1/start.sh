#!/bin/sh
# ledger 1.x: one amount per line in /var/lib/ledger/ledger.txt ("format A").
set -e
trap 'exit 0' TERM INT
mkdir -p /var/lib/ledger
touch /var/lib/ledger/ledger.txt
echo "ledger $LEDGER_VERSION: format A, $(wc -l < /var/lib/ledger/ledger.txt) entries" >&2
touch /tmp/ready
while true; do sleep 1 & wait $!; done
