#!/bin/sh
# The "notes" example app: a tiny stateful HTTP service. Notes live on the volume
# /var/lib/notes; the version it serves comes from the image (NOTES_VERSION).
set -e
mkdir -p /var/lib/notes
touch /var/lib/notes/notes.txt
if [ -n "$NOTES_BROKEN" ]; then
  echo "notes $NOTES_VERSION: refusing to start: $NOTES_BROKEN" >&2
  exit 3
fi
echo "notes $NOTES_VERSION starting on port 8080" >&2
# httpd as PID 1 would ignore SIGTERM; run it as a child and stop it on TERM so that
# `stop` is immediate instead of waiting for the kill timeout.
httpd -f -p 8080 -h /www &
child=$!
trap 'kill "$child"; wait "$child"; exit 0' TERM INT
wait "$child"
