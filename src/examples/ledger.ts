/**
 * The "ledger" example (examples/ledger): a format change between 1.x and 2.x migrated by
 * upgrade scripts. Image specs and a manifest builder for tests and the demo.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { SCRIPT_LABEL } from '../core/model.ts';
import type { ContainerEngine } from '../engines/types.ts';
import { busyboxContext, type BusyboxImageSpec } from './images.ts';

const DIR = fileURLToPath(new URL('../../examples/ledger', import.meta.url));
const file = (path: string, mode = 0o755) => ({ content: readFileSync(`${DIR}/${path}`), mode });

/** The image of a ledger version: 1.x (format A) or 2.x (format B, with upgrade scripts). */
export function ledgerImage(version: string): BusyboxImageSpec {
  const env = { LEDGER_VERSION: version };
  if (version.startsWith('1.'))
    return { cmd: ['/opt/ledger/start.sh'], env, files: { '/opt/ledger/start.sh': file('v1/start.sh') } };
  return {
    cmd: ['/opt/ledger/start.sh'],
    env,
    labels: {
      [SCRIPT_LABEL.preUpgrade]: '/opt/ledger/pre-upgrade.sh',
      [SCRIPT_LABEL.postUpgrade]: '/opt/ledger/post-upgrade.sh',
      [SCRIPT_LABEL.notification]: '/opt/ledger/NOTICE',
    },
    files: {
      '/opt/ledger/start.sh': file('v2/start.sh'),
      '/opt/ledger/pre-upgrade.sh': file('v2/pre-upgrade.sh'),
      '/opt/ledger/post-upgrade.sh': file('v2/post-upgrade.sh'),
      '/opt/ledger/NOTICE': file('v2/NOTICE', 0o644),
    },
  };
}

/** Builds `repo:version` of the ledger. */
export async function buildLedgerImage(engine: ContainerEngine, repo: string, version: string): Promise<string> {
  const tag = `${repo}:${version}`;
  await engine.buildImage(tag, busyboxContext(ledgerImage(version)));
  return tag;
}

/** A ledger App manifest as YAML. */
export function ledgerManifest(o: {
  name: string;
  version: string;
  image: string;
  network: { name: string; subnet: string };
  upgrade?: Record<string, unknown>;
}): string {
  return stringify({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name: o.name, labels: { example: 'ledger' } },
    spec: {
      package: 'examples/ledger',
      version: o.version,
      image: o.image,
      volumes: [{ name: `${o.name}-data`, mountPath: '/var/lib/ledger' }],
      network: o.network,
      probes: { startup: { exec: ['cat', '/tmp/ready'], periodSeconds: 0.2, failureThreshold: 25 } },
      stopTimeoutSeconds: 3,
      ...(o.upgrade ? { upgrade: o.upgrade } : {}),
    },
  });
}
