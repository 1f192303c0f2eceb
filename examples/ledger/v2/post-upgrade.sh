#!/bin/sh
# Runs in the NEW (2.x) container before its normal start (startup gate): converts the export
# written by pre-upgrade.sh into format B. Idempotent: a rerun after success changes nothing.
set -e
echo "post-upgrade argv: $#|$1|$2" >> /var/lib/ledger/script-log
export_file="/var/lib/ledger/export-for-$2.txt"
if [ -e "$export_file" ]; then
  tmp=/var/lib/ledger/ledger.b.tmp
  echo "# ledger format B" > "$tmp"
  n=0
  while read -r amount; do n=$((n + 1)); echo "$n;$amount" >> "$tmp"; done < "$export_file"
  mv "$tmp" /var/lib/ledger/ledger.b
  rm -f "$export_file" /var/lib/ledger/ledger.txt
  echo "migrated $n entries from $1 to $2"
fi
echo "$(date +%s) post-upgrade done $2" >> /var/lib/ledger/events
