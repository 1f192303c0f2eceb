/**
 * The "kv" test app of the multi-member tests and benchmarks: a busybox member that records
 * its starts and lifecycle hook calls in its `meta` volume and keeps `data` untouched; a
 * member whose role and ordinal match FAIL_ROLE/FAIL_ORDINAL never gets ready.
 */
import { buildTestImage, type PodmanHarness } from './harness.ts';

const REPO = 'localhost/e2e-kv';
const START = `#!/bin/sh
trap 'exit 0' TERM
mkdir -p /meta
echo "start $APP_VERSION" >> /meta/log
if [ -n "$READY_AFTER" ]; then sleep "$READY_AFTER" & wait $!; fi
if [ "$FAIL_ROLE" = "$MOLT_ROLE" ] && [ "$FAIL_ORDINAL" = "$MOLT_ORDINAL" ]; then echo "member $MOLT_MEMBER never gets ready" >&2; else touch /tmp/ready; fi
while true; do sleep 1 & wait $!; done
`;
const LIFECYCLE = '#!/bin/sh\necho "$1 $APP_VERSION $MOLT_MEMBER" >> /meta/hooks\n';

/** Builds kv `version` (extra image env e.g. FAIL_ROLE/FAIL_ORDINAL) as `repo:version`; returns its tag. */
export async function kvImage(
  h: PodmanHarness,
  version: string,
  env: Record<string, string> = {},
  repo = REPO,
): Promise<string> {
  const tag = `${repo}:${version}`;
  await buildTestImage(h, {
    tag,
    cmd: ['/opt/kv/start'],
    env: { APP_VERSION: version, ...env },
    files: {
      '/opt/kv/start': { content: START, mode: 0o755 },
      '/opt/kv/lifecycle': { content: LIFECYCLE, mode: 0o755 },
    },
  });
  return tag;
}

/** A Release of kv with roles a and b running `tag`. */
export function kvRelease(name: string, version: string, tag: string, upgradable?: boolean) {
  const role = (r: string) => ({
    name: r,
    image: tag,
    volumes: [
      { name: 'data', mountPath: '/data' },
      { name: 'meta', mountPath: '/meta' },
    ],
    lifecycle: '/opt/kv/lifecycle',
    probes: { startup: { exec: ['cat', '/tmp/ready'], periodSeconds: 0.2, failureThreshold: 10 } },
    upgrade: { startupFailureThreshold: 8 },
    stopTimeoutSeconds: 2,
  });
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'Release',
    metadata: { name },
    spec: {
      package: 'test/kv',
      version,
      ...(upgradable === undefined ? {} : { upgradable }),
      roles: [role('a'), role('b')],
    },
  };
}
