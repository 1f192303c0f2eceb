/**
 * The kill-point matrix of the path with scripts and snapshots: an upgrade (the ledger's
 * format migration) killed at every step boundary and re-run; its rollback killed at every
 * rollback step and recovered. After each: one whole version, data as expected on that side,
 * no helper container left. (The multi-member path is recovery-release.test.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLedgerImage, ledgerManifest } from '../../src/examples/ledger.ts';
import { boundaries } from '../../src/core/step-boundaries.ts';
import { FORWARD_STEPS, ROLLBACK_STEPS } from '../../src/core/upgrade-machine.ts';
import { KillTally } from './faults.ts';
import { buildTestImage, startPodman, volumeChecksum, type PodmanHarness } from './harness.ts';
import { molt, moltEnv, writeManifest, type MoltEnv } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
let network: { name: string; subnet: string };
const REPO = 'localhost/e2e-kill-ledger';
const HOOKS = { MOLT_TEST_HOOKS: '1' };
let n = 0;
const PATHS = {
  'scripts and snapshots, upgrade': boundaries(FORWARD_STEPS.upgrade),
  'scripts and snapshots, rollback': boundaries(ROLLBACK_STEPS.upgrade),
};
const tally = new KillTally('recovery-scripts', PATHS);
/** Points run side by side: each has its own app, volume and address. */
const CONCURRENCY = 4;

before(async () => {
  h = await startPodman();
  m = moltEnv(h);
  network = { name: h.name('net'), subnet: h.freeSubnet() };
  await buildLedgerImage(h.engine, REPO, '1.0.0-1');
  await buildLedgerImage(h.engine, REPO, '2.0.0-1');
  await buildTestImage(h, {
    tag: `${REPO}:2.0.0-9`,
    cmd: ['/opt/ledger/start.sh'],
    labels: { 'dev.molt.post-upgrade': '/opt/ledger/post.sh' },
    files: {
      '/opt/ledger/start.sh': {
        content:
          '#!/bin/sh\ntrap "exit 0" TERM\nwhile [ ! -e /.molt/upgrade-done ]; do sleep 0.1; done\ntouch /tmp/ready\nwhile true; do sleep 1 & wait $!; done\n',
        mode: 0o755,
      },
      '/opt/ledger/post.sh': {
        content: '#!/bin/sh\necho rewritten > /var/lib/ledger/ledger.txt\nexit 1\n',
        mode: 0o755,
      },
    },
  });
});
after(async () => {
  console.log(tally.report());
  await h?.stop();
});

const manifest = (name: string, version: string) =>
  writeManifest(m, `${name}-${version}.yaml`, ledgerManifest({ name, version, image: `${REPO}:${version}`, network }));

async function installV1(name: string) {
  assert.equal((await molt(m, ['apply', '-f', manifest(name, '1.0.0-1')])).code, 0);
  const c = (await h.engine.inspectContainer(name))!;
  await h.engine.exec(c.id, ['sh', '-c', 'for a in 7 8 9; do echo $a >> /var/lib/ledger/ledger.txt; done']);
  return { ip: c.requestedIps[network.name], sum: await volumeChecksum(h, `${name}-data`) };
}

async function onlyContainer(name: string) {
  const all = await h.engine.listContainers([`dev.molt.app=${name}`]);
  assert.deepEqual(
    all.map((c) => c.name),
    [name],
    'exactly the app container: no parked, new or helper container left',
  );
  assert.ok(all[0]!.running);
  return all[0]!;
}

describe('an upgrade with scripts and snapshots, killed at every step boundary, then re-run', {
  concurrency: CONCURRENCY,
}, () => {
  for (const point of PATHS['scripts and snapshots, upgrade']) {
    const [step, when] = point.split(':');
    test(`killed ${when} ${step}: ends on 2.0.0-1 with the ledger migrated exactly once`, async () => {
      tally.tried('scripts and snapshots, upgrade');
      const name = `ks${++n}`;
      const v1 = await installV1(name);
      const killed = await molt(m, ['apply', '-f', manifest(name, '2.0.0-1')], { ...HOOKS, MOLT_TEST_KILL_AT: point });
      assert.ok(killed.code >= 128, killed.stderr);
      const rerun = await molt(m, ['apply', '-f', manifest(name, '2.0.0-1')]);
      assert.equal(rerun.code, 0, rerun.stderr);
      const c = await onlyContainer(name);
      assert.equal(c.labels['dev.molt.version'], '2.0.0-1');
      assert.equal(c.networks[network.name], v1.ip);
      const ledger = (await h.engine.exec(c.id, ['cat', '/var/lib/ledger/ledger.b'])).stdout;
      assert.equal(ledger, '# ledger format B\n1;7\n2;8\n3;9\n');
      tally.passed('scripts and snapshots, upgrade');
    });
  }
});

describe('a rollback after a post-upgrade script rewrote data, killed at every rollback step, then recovered', {
  concurrency: CONCURRENCY,
}, () => {
  for (const point of PATHS['scripts and snapshots, rollback']) {
    const [step, when] = point.split(':');
    test(`killed ${when} rollback ${step}: ends on 1.0.0-1 with the pre-upgrade bytes`, async () => {
      tally.tried('scripts and snapshots, rollback');
      const name = `kr${++n}`;
      const v1 = await installV1(name);
      const killed = await molt(m, ['apply', '-f', manifest(name, '2.0.0-9')], { ...HOOKS, MOLT_TEST_KILL_AT: point });
      assert.ok(killed.code >= 128, killed.stderr);
      const recover = await molt(m, ['recover', name]);
      assert.match(recover.stdout, /ended RolledBack/, recover.stderr);
      const c = await onlyContainer(name);
      assert.equal(c.labels['dev.molt.version'], '1.0.0-1');
      assert.equal(c.networks[network.name], v1.ip);
      assert.equal(await volumeChecksum(h, `${name}-data`), v1.sum, 'volume restored to the pre-upgrade bytes');
      tally.passed('scripts and snapshots, rollback');
    });
  }
});

test('the matrix covered every generated kill point, and all passed', () => tally.assertComplete());
