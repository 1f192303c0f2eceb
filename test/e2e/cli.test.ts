/**
 * The CLI as a user meets it on real Podman: plan's exit codes, get/history output, rollback,
 * delete, Ctrl-C during an upgrade and --timeout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { FORWARD_STEPS } from '../../src/core/upgrade-machine.ts';
import { volumeChecksum, type PodmanHarness } from './harness.ts';
import { appDoc, buildApp, molt, spawnMolt, writeManifest, type MoltEnv, startTestbed } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const REPO = 'localhost/e2e-cli';

before(async () => {
  ({ h, m, net, subnet } = await startTestbed());
  await Promise.all([
    buildApp(h, REPO, '1.0.0-1'),
    buildApp(h, REPO, '1.1.0-1'),
    buildApp(h, REPO, '1.3.0-1', { NEVER_READY: '1' }),
  ]);
});
after(async () => h?.stop());

const file = (name: string, version: string, extra: Partial<Parameters<typeof appDoc>[0]> = {}) =>
  writeManifest(
    m,
    `${name}-${version}.yaml`,
    appDoc({ name, version, image: `${REPO}:${version}`, network: net, subnet, ...extra }),
  );

test('plan exits 2 with the steps when changes are pending and 0 when there are none', async () => {
  const p1 = await molt(m, ['plan', '-f', file('planned', '1.0.0-1')]);
  assert.equal(p1.code, 2);
  assert.match(p1.stdout, /app\/planned: install 1\.0\.0-1/);
  assert.match(p1.stdout, /1\. EnsureImage/);
  assert.equal((await molt(m, ['apply', '-f', file('planned', '1.0.0-1')])).code, 0);
  const p2 = await molt(m, ['plan', '-f', file('planned', '1.0.0-1')]);
  assert.equal(p2.code, 0, p2.stdout);
  assert.match(p2.stdout, /no changes/);
  const p3 = await molt(m, ['plan', '-f', file('planned', '1.1.0-1')]);
  assert.equal(p3.code, 2);
  assert.deepEqual(
    [...p3.stdout.matchAll(/^\s+\d+\. (\w+)/gm)].map((x) => x[1]),
    [...FORWARD_STEPS.upgrade],
  );
  const p4 = await molt(m, ['plan', '-f', file('planned', '0.9.0-1')]);
  assert.equal(p4.code, 1);
  assert.match(p4.stderr, /DowngradeRefused/);
});

test('get app -o json shows the status fields; get apps lists it; -o yaml parses', async () => {
  assert.equal((await molt(m, ['apply', '-f', file('shown', '1.0.0-1')])).code, 0);
  assert.equal((await molt(m, ['apply', '-f', file('shown', '1.1.0-1')])).code, 0);
  const r = await molt(m, ['get', 'app', 'shown', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const app = JSON.parse(r.stdout);
  const c = await h.engine.inspectContainer('shown');
  assert.equal(app.kind, 'App');
  assert.equal(app.metadata.name, 'shown');
  assert.equal(app.status.phase, 'Running');
  assert.equal(app.status.installedVersion, '1.1.0-1');
  assert.equal(app.status.image, `${REPO}:1.1.0-1`);
  assert.equal(app.status.containerId, c?.id);
  assert.equal(app.status.ip, c?.networks[net]);
  const ready = app.status.conditions.find((x: { type: string }) => x.type === 'Ready');
  assert.deepEqual(Object.keys(ready).sort(), ['lastTransitionTime', 'message', 'reason', 'status', 'type']);
  assert.equal(ready.status, 'True');
  assert.deepEqual(
    { from: app.status.lastUpgrade.from, to: app.status.lastUpgrade.to, outcome: app.status.lastUpgrade.outcome },
    { from: '1.0.0-1', to: '1.1.0-1', outcome: 'Succeeded' },
  );
  const yaml = parse((await molt(m, ['get', 'app', 'shown', '-o', 'yaml'])).stdout);
  assert.equal(yaml.status.installedVersion, '1.1.0-1');
  const table = await molt(m, ['get', 'apps']);
  assert.match(table.stdout, /^NAME\s+VERSION\s+PHASE\s+IP\s+AGE/);
  assert.match(table.stdout, /\nshown\s+1\.1\.0-1\s+Running\s+10\.90\.\d+\.\d+/);
});

test('history lists every attempt with its steps, as text and JSON', async () => {
  const text = await molt(m, ['history', 'shown']);
  assert.match(text.stdout, /#\d+ install ∅ → 1\.0\.0-1\s+Succeeded/);
  assert.match(text.stdout, /#\d+ upgrade 1\.0\.0-1 → 1\.1\.0-1\s+Succeeded/);
  const ops = JSON.parse((await molt(m, ['history', 'shown', '-o', 'json'])).stdout);
  assert.equal(ops.length, 2);
  assert.deepEqual(
    ops[1].steps.map((s: { name: string }) => s.name),
    [...FORWARD_STEPS.upgrade],
  );
  for (const s of ops[1].steps) {
    assert.equal(s.phase, 'Completed');
    assert.ok(Date.parse(s.finishedAt) >= Date.parse(s.startedAt));
  }
});

test('rollback returns to the previous version with the data and IP kept', async () => {
  const before = await h.engine.inspectContainer('shown');
  await h.engine.exec(before!.id, ['sh', '-c', 'echo written-by-v2 > /data/v2']);
  const sum = await volumeChecksum(h, 'shown-data');
  const r = await molt(m, ['rollback', 'shown']);
  assert.equal(r.code, 0, r.stderr);
  const c = await h.engine.inspectContainer('shown');
  assert.equal(c?.image, `${REPO}:1.0.0-1`);
  assert.equal(c?.networks[net], before?.networks[net]);
  assert.equal(await volumeChecksum(h, 'shown-data'), sum);
  const ops = JSON.parse((await molt(m, ['history', 'shown', '-o', 'json'])).stdout);
  assert.equal(ops.at(-1).kind, 'rollback');
  const again = await molt(m, ['rollback', 'nonexistent']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /error\[AppNotFound\]/);
});

test('Ctrl-C during an upgrade rolls back to the old version', async () => {
  assert.equal((await molt(m, ['apply', '-f', file('intr', '1.0.0-1')])).code, 0);
  const old = await h.engine.inspectContainer('intr');
  const child = spawnMolt(m, ['apply', '-f', file('intr', '1.3.0-1', { failureThreshold: 1000 })]);
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  while (!err.includes('→ AwaitReady')) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 1, err);
  assert.match(err, /error\[Interrupted\]/);
  const c = await h.engine.inspectContainer('intr');
  assert.equal(c?.id, old?.id);
  assert.ok(c?.running);
});

test('--timeout rolls back an upgrade that does not finish in time', async () => {
  const r = await molt(m, ['apply', '--timeout', '2s', '-f', file('intr', '1.3.0-1', { failureThreshold: 1000 })]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error\[Timeout\]: intr: not done within 2s/);
  assert.equal((await h.engine.inspectContainer('intr'))?.labels['dev.molt.version'], '1.0.0-1');
});

test('delete removes the containers and keeps the volumes unless --volumes', async () => {
  assert.equal((await molt(m, ['delete', 'intr'])).code, 0);
  assert.equal(await h.engine.inspectContainer('intr'), undefined);
  assert.ok(await h.engine.volumeExists('intr-data'), 'volume kept');
  const r = await molt(m, ['delete', 'shown', '--volumes']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await h.engine.volumeExists('shown-data'), false);
  assert.equal((await molt(m, ['get', 'app', 'shown'])).code, 1);
});
