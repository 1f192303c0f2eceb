#!/bin/sh
# Startup probe: ready once the server answers PING with PONG (not LOADING, not an error).
cli=$(command -v valkey-cli || command -v redis-cli)
[ "$("$cli" -h 127.0.0.1 ping 2>/dev/null)" = PONG ]
