#!/usr/bin/env bash
# Installs what molt needs on a Debian machine, idempotently:
#   - npm dependencies (including Node 24 itself, as the npm package `node`);
#   - Podman, runc and busybox-static from Debian when missing (busybox builds the example
#     and test images offline); debootstrap, which builds the real-database example images
#     (examples/postgres, examples/valkey) from Debian packages.
# molt writes its own Podman configuration under its state dir and passes it through
# CONTAINERS_CONF; the machine's /etc/containers files are never changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
quiet=${1:-}
say() { [ "$quiet" = "--quiet" ] || echo "setup: $*" >&2; }

need_apt=()
command -v podman >/dev/null || need_apt+=(podman)
command -v runc >/dev/null || need_apt+=(runc)

dpkg -s busybox-static >/dev/null 2>&1 || need_apt+=(busybox-static)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "installing from Debian: ${need_apt[*]}"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

stamp=node_modules/.molt-installed
if [ ! -x node_modules/node/bin/node ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  say "installing npm dependencies (with Node 24)"
  npm ci --no-audit --no-fund --loglevel=error >&2
  touch "$stamp"
fi
# The CLI bundle (scripts/build.ts): rebuilt when a source file is newer; bin/molt runs the
# sources meanwhile.
if [ ! -f dist/molt.cjs ] || [ -n "$(find src -name '*.ts' -newer dist/molt.cjs -print -quit)" ]; then
  say "bundling the CLI (dist/molt.cjs)"
  node_modules/node/bin/node scripts/build.ts
fi
say "ready: $(node_modules/node/bin/node --version), $(podman --version)"
