#!/usr/bin/env bash
# `npm run demo`: set-up, then the demo upgrade end to end on the local engine (Podman).
# `npm run demo -- --kubernetes`: the same demo on the test cluster of test/k8s, with the
# operator built from this checkout and images pulled from the test registry.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
if [ "${1:-}" = "--kubernetes" ]; then
  shift
  exec node_modules/node/bin/node --disable-warning=ExperimentalWarning scripts/demo-kubernetes.ts "$@"
fi
exec bin/molt demo "$@"
