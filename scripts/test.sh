#!/usr/bin/env bash
# The full test suite: type check, unit tests beside the code, and end-to-end tests against
# real Podman (each test file starts and stops its own isolated Podman service) and a real
# Kubernetes cluster (test/k8s/cluster, started and stopped by its tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --quiet
node=node_modules/node/bin/node
echo "typecheck: tsc --noEmit" >&2
"$node" node_modules/typescript/bin/tsc --noEmit -p .
echo "format: biome format (120 columns; npm run format fixes it)" >&2
node_modules/.bin/biome format . >/dev/null || { node_modules/.bin/biome format . 2>&1 | tail -40; echo "format: files above are not formatted: run npm run format" >&2; exit 1; }
exec "$node" --disable-warning=ExperimentalWarning --test --test-concurrency="${MOLT_TEST_CONCURRENCY:-4}" \
  'src/**/*.test.ts' 'test/**/*.test.ts' "$@"
