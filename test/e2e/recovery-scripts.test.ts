/**
 * The kill-point matrix for the other upgrade paths: an upgrade with scripts and snapshots
 * (the ledger's format migration) killed at every step boundary and re-run; its rollback killed
 * at every rollback step and recovered; and a multi-member rollout killed mid-way and re-run.
 * After each: one whole version, data as expected on that side, no helper container left.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { buildLedgerImage, ledgerManifest } from '../../src/examples/ledger.ts';
import { FORWARD_STEPS, ROLLBACK_STEPS } from '../../src/core/upgrade-machine.ts';
import { buildTestImage, startPodman, volumeChecksum, type PodmanHarness } from './harness.ts';
import { kvImage, kvRelease } from './kv-app.ts';
import { molt, moltEnv, writeManifest, type MoltEnv } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
let network: { name: string; subnet: string };
const REPO = 'localhost/e2e-kill-ledger';
const HOOKS = { MOLT_TEST_HOOKS: '1' };
let n = 0;
const tally = { tried: 0, passed: 0 };

before(async () => {
  h = await startPodman();
  m = moltEnv(h);
  network = { name: h.name('net'), subnet: h.freeSubnet() };
  await buildLedgerImage(h.engine, REPO, '1.0.0-1');
  await buildLedgerImage(h.engine, REPO, '2.0.0-1');
  await buildTestImage(h, {
    tag: `${REPO}:2.0.0-9`, cmd: ['/opt/ledger/start.sh'], labels: { 'dev.molt.post-upgrade': '/opt/ledger/post.sh' },
    files: {
      '/opt/ledger/start.sh': { content: '#!/bin/sh\ntrap "exit 0" TERM\nwhile [ ! -e /.molt/upgrade-done ]; do sleep 0.1; done\ntouch /tmp/ready\nwhile true; do sleep 1 & wait $!; done\n', mode: 0o755 },
      '/opt/ledger/post.sh': { content: '#!/bin/sh\necho rewritten > /var/lib/ledger/ledger.txt\nexit 1\n', mode: 0o755 },
    },
  });
});
after(async () => {
  console.log(`kill points tried (scripts and multi-member paths): ${tally.tried}, passed: ${tally.passed}`);
  await h?.stop();
});

const manifest = (name: string, version: string) => writeManifest(m, `${name}-${version}.yaml`, ledgerManifest({ name, version, image: `${REPO}:${version}`, network }));

async function installV1(name: string) {
  assert.equal((await molt(m, ['apply', '-f', manifest(name, '1.0.0-1')])).code, 0);
  const c = (await h.engine.inspectContainer(name))!;
  await h.engine.exec(c.id, ['sh', '-c', 'for a in 7 8 9; do echo $a >> /var/lib/ledger/ledger.txt; done']);
  return { ip: c.requestedIps[network.name], sum: await volumeChecksum(h, `${name}-data`) };
}

async function onlyContainer(name: string) {
  const all = await h.engine.listContainers([`dev.molt.app=${name}`]);
  assert.deepEqual(all.map((c) => c.name), [name], 'exactly the app container: no parked, new or helper container left');
  assert.ok(all[0]!.running);
  return all[0]!;
}

describe('an upgrade with scripts and snapshots, killed at every step boundary, then re-run', () => {
  for (const step of FORWARD_STEPS.upgrade) {
    for (const when of ['before', 'after']) {
      test(`killed ${when} ${step}: ends on 2.0.0-1 with the ledger migrated exactly once`, async () => {
        tally.tried++;
        const name = `ks${++n}`;
        const v1 = await installV1(name);
        const killed = await molt(m, ['apply', '-f', manifest(name, '2.0.0-1')], { ...HOOKS, MOLT_TEST_KILL_AT: `${step}:${when}` });
        assert.ok(killed.code >= 128, killed.stderr);
        const rerun = await molt(m, ['apply', '-f', manifest(name, '2.0.0-1')]);
        assert.equal(rerun.code, 0, rerun.stderr);
        const c = await onlyContainer(name);
        assert.equal(c.labels['dev.molt.version'], '2.0.0-1');
        assert.equal(c.networks[network.name], v1.ip);
        const ledger = (await h.engine.exec(c.id, ['cat', '/var/lib/ledger/ledger.b'])).stdout;
        assert.equal(ledger, '# ledger format B\n1;7\n2;8\n3;9\n');
        tally.passed++;
      });
    }
  }
});

describe('a rollback after a post-upgrade script rewrote data, killed at every rollback step, then recovered', () => {
  for (const step of ROLLBACK_STEPS.upgrade) {
    for (const when of ['before', 'after']) {
      test(`killed ${when} rollback ${step}: ends on 1.0.0-1 with the pre-upgrade bytes`, async () => {
        tally.tried++;
        const name = `kr${++n}`;
        const v1 = await installV1(name);
        const killed = await molt(m, ['apply', '-f', manifest(name, '2.0.0-9')], { ...HOOKS, MOLT_TEST_KILL_AT: `${step}:${when}` });
        assert.ok(killed.code >= 128, killed.stderr);
        const recover = await molt(m, ['recover', name]);
        assert.match(recover.stdout, /ended RolledBack/, recover.stderr);
        const c = await onlyContainer(name);
        assert.equal(c.labels['dev.molt.version'], '1.0.0-1');
        assert.equal(c.networks[network.name], v1.ip);
        assert.equal(await volumeChecksum(h, `${name}-data`), v1.sum, 'volume restored to the pre-upgrade bytes');
        tally.passed++;
      });
    }
  }
});

test('a multi-member rollout killed mid-way and re-run finishes with every member upgraded once', async () => {
  tally.tried++;
  const [v1, v2] = await Promise.all([kvImage(h, '1.0.0-1'), kvImage(h, '2.0.0-1')]);
  const rel = writeManifest(m, 'kv-releases.yaml', [kvRelease('kvk-1', '1.0.0-1', v1, true), kvRelease('kvk-2', '2.0.0-1', v2, true)].map((d) => stringify(d)).join('---\n'));
  assert.equal((await molt(m, ['apply', '-f', rel])).code, 0);
  const app = (r: string) => writeManifest(m, `kvk-${r}.yaml`, { apiVersion: 'molt.dev/v1alpha1', kind: 'App', metadata: { name: 'kvk' }, spec: { release: r, roles: [{ name: 'a', members: 2 }, { name: 'b', members: 2 }], network } });
  assert.equal((await molt(m, ['apply', '-f', app('kvk-1')])).code, 0);
  const killed = await molt(m, ['apply', '-f', app('kvk-2')], { ...HOOKS, MOLT_TEST_KILL_AT: 'AwaitReady:after' });
  assert.ok(killed.code >= 128, killed.stderr);
  const rerun = await molt(m, ['apply', '-f', app('kvk-2')]);
  assert.equal(rerun.code, 0, rerun.stderr);
  const status = JSON.parse((await molt(m, ['get', 'app', 'kvk', '-o', 'json'])).stdout).status;
  assert.equal(status.state, 'configured');
  for (const role of status.roles) for (const mem of role.members) assert.equal(mem.version, '2.0.0-1', mem.name);
  const history = JSON.parse((await molt(m, ['history', 'kvk', '-o', 'json'])).stdout);
  const upgradedEvents = history.flatMap((r: { events: { event: string; member: string }[] }) => r.events).filter((e: { event: string }) => e.event === 'member-upgraded').map((e: { member: string }) => e.member);
  assert.equal(new Set(upgradedEvents).size, upgradedEvents.length, `no member upgraded twice: ${upgradedEvents}`);
  for (const name of ['kvk-a-0', 'kvk-a-1', 'kvk-b-0', 'kvk-b-1']) {
    const ops = JSON.parse((await molt(m, ['history', name, '-o', 'json'])).stdout) as { to: string; outcome: string }[];
    assert.equal(ops.filter((o) => o.to === '2.0.0-1').length, 1, `${name} has exactly one operation to 2.0.0-1`);
  }
  tally.passed++;
});
