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
exec httpd -f -p 8080 -h /www
