/**
 * What a newcomer tripped over (issue 20), on real Podman: a rollback reported and recorded as
 * a rollback; plan naming the fields that differ and the probe budget that applies; a failed
 * install saying what it left recorded; history's table intact after a failed step.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PodmanHarness } from './harness.ts';
import { appDoc, buildApp, molt, writeManifest, type MoltEnv, startTestbed } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const REPO = 'localhost/e2e-newcomer';

before(async () => {
  ({ h, m, net, subnet } = await startTestbed());
  await Promise.all([
    buildApp(h, REPO, '1.0.0-1'),
    buildApp(h, REPO, '1.1.0-1'),
    buildApp(h, REPO, '1.2.0-1', { EXIT_AT_START: 'config format 3 not understood' }),
  ]);
});
after(async () => h?.stop());

const file = (name: string, version: string, extra: Partial<Parameters<typeof appDoc>[0]> = {}, tag = '') =>
  writeManifest(
    m,
    `${name}-${version}${tag}.yaml`,
    appDoc({ name, version, image: `${REPO}:${version}`, network: net, subnet, ...extra }),
  );

test('molt rollback is reported as a rollback and records exactly the spec the user applied; plan of that manifest then has nothing to do', async () => {
  const v1 = file('back', '1.0.0-1');
  assert.equal((await molt(m, ['apply', '-f', v1])).code, 0);
  const up = await molt(m, ['apply', '-f', file('back', '1.1.0-1')]);
  assert.equal(up.code, 0, up.stderr);
  const applied = JSON.parse((await molt(m, ['get', 'app', 'back', '-o', 'json'])).stdout);
  const r = await molt(m, ['rollback', 'back']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /DOWNGRADE|forceUpgrade|forced/, r.stderr);
  assert.match(r.stderr, /rollback back 1\.1\.0-1 → 1\.0\.0-1 \(operation \d+\)/);
  assert.equal(r.stdout, 'app/back rolled back: 1.1.0-1 → 1.0.0-1\n');
  const after = JSON.parse((await molt(m, ['get', 'app', 'back', '-o', 'json'])).stdout);
  assert.equal(after.spec.upgradeConfig.forceUpgrade, false, 'no forceUpgrade the user never wrote');
  assert.equal(after.spec.version, '1.0.0-1');
  assert.deepEqual(
    { ...after.spec, version: applied.spec.version, image: applied.spec.image },
    applied.spec,
    'the v1 spec as applied, nothing added',
  );
  const plan = await molt(m, ['plan', '-f', v1]);
  assert.equal(plan.code, 0, plan.stdout + plan.stderr);
  assert.match(plan.stdout, /app\/back: no changes/);
  const history = JSON.parse((await molt(m, ['history', 'back', '-o', 'json'])).stdout);
  assert.deepEqual(history.at(-1).warnings, []);
  assert.equal(history.at(-1).kind, 'rollback');
});

test('plan names every field that differs, also when no container changes', async () => {
  assert.equal((await molt(m, ['apply', '-f', file('named', '1.0.0-1')])).code, 0);
  const changed = file('named', '1.0.0-1', { forceUpgrade: true, upgrade: { keepSnapshots: 5 } }, '-settings');
  const p = await molt(m, ['plan', '-f', changed]);
  assert.equal(p.code, 2, p.stdout + p.stderr);
  assert.match(
    p.stdout,
    /app\/named: settings recorded, no container change \(only settings that do not shape the container changed: spec\.upgrade\.keepSnapshots, spec\.upgradeConfig\.forceUpgrade\)/,
  );
});

test('plan of an upgrade shows the raised startup-probe budget the upgrade uses; of an install the normal one', async () => {
  const install = await molt(m, ['plan', '-f', file('budget', '1.0.0-1')]);
  assert.match(install.stdout, /AwaitReady\s+wait for the startup probe \(15 × 0\.2s\)/);
  assert.equal((await molt(m, ['apply', '-f', file('budget', '1.0.0-1')])).code, 0);
  const upgrade = await molt(m, ['plan', '-f', file('budget', '1.1.0-1')]);
  assert.match(upgrade.stdout, /AwaitReady\s+wait for the startup probe \(150 × 0\.2s, the raised upgrade budget\)/);
  const own = await molt(m, [
    'plan',
    '-f',
    file('budget', '1.1.0-1', { upgrade: { startupFailureThreshold: 40 } }, '-own'),
  ]);
  assert.match(own.stdout, /\(40 × 0\.2s, the raised upgrade budget\)/);
});

test('an install whose image is missing says what it left recorded and how to clear it; delete clears it', async () => {
  const missing = writeManifest(
    m,
    'ghost.yaml',
    appDoc({ name: 'ghost', version: '9.0.0-1', image: `${REPO}:9.0.0-1`, network: net, subnet }),
  );
  const r = await molt(m, ['apply', '-f', missing]);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.stderr, /nothing was changed/);
  assert.match(
    r.stderr,
    /nothing was installed\.\napp\/ghost stays recorded as Failed with this error \(`molt get apps`, `molt history ghost`\): apply again once fixed, or `molt delete ghost` to forget it\./,
  );
  const listed = await molt(m, ['get', 'apps']);
  assert.match(listed.stdout, /\nghost\s+<none>\s+Failed/, 'what the message says is what get apps shows');
  assert.deepEqual(await h.engine.listContainers(['dev.molt.app=ghost']), [], 'no container was made');
  const d = await molt(m, ['delete', 'ghost']);
  assert.equal(d.code, 0, d.stderr);
  assert.doesNotMatch((await molt(m, ['get', 'apps'])).stdout, /ghost/);
});

test("history keeps a failed step's last output inside its entry instead of breaking the table", async () => {
  assert.equal((await molt(m, ['apply', '-f', file('broken', '1.0.0-1')])).code, 0);
  const r = await molt(m, ['apply', '-f', file('broken', '1.2.0-1', { failureThreshold: 5 })]);
  assert.equal(r.code, 1, r.stderr);
  const text = (await molt(m, ['history', 'broken'])).stdout;
  assert.match(text, /last output:/, text);
  assert.match(text, /│ .*config format 3 not understood/, text);
  for (const line of text.split('\n').filter((l) => l !== ''))
    assert.match(line, /^(#\d+ |\s{3})/, `a line outside the table: ${JSON.stringify(line)}\n${text}`);
});
