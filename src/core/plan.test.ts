import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpgradeRefusedError } from './errors.ts';
import { decide } from './plan.ts';
import { appManifest } from '../testing/fixtures.ts';

const v1 = appManifest();
const refusedWith = (code: string) => (e: unknown) => e instanceof UpgradeRefusedError && e.code === code;

test('an app that is not installed is planned as an install', () => {
  const d = decide(v1, undefined);
  assert.equal(d.action, 'install');
});

test('the same version and image is nothing to do', () => {
  assert.equal(decide(appManifest(), v1).action, 'none');
});

test('a newer version is an upgrade with the full step list', () => {
  const d = decide(appManifest({ version: '1.2.3-5', image: 'localhost/notes:1.2.3-5' }), v1);
  assert.equal(d.action, 'upgrade');
  assert.ok(d.action === 'upgrade' && d.steps.includes('AwaitReady') && d.from === '1.2.3-4' && d.to === '1.2.3-5');
});

test('a lower version is refused unless forceUpgrade, and forcing warns', () => {
  assert.throws(() => decide(appManifest({ version: '1.2.3-3' }), v1), refusedWith('DowngradeRefused'));
  const forced = decide(
    appManifest({ version: '1.2.3-3', upgradeConfig: { forceUpgrade: true, allowNamespaceSwitch: false } }),
    v1,
  );
  assert.ok(forced.action === 'upgrade' && forced.warnings.some((w) => w.includes('DOWNGRADE')));
});

test('a namespace switch is refused unless allowNamespaceSwitch', () => {
  assert.throws(
    () => decide(appManifest({ package: 'premium/notes', version: '1.2.3-5' }), v1),
    refusedWith('NamespaceSwitchRefused'),
  );
  const allowed = decide(
    appManifest({
      package: 'premium/notes',
      version: '1.2.3-5',
      upgradeConfig: { forceUpgrade: false, allowNamespaceSwitch: true },
    }),
    v1,
  );
  assert.equal(allowed.action, 'upgrade');
});

test('a changed package name is always refused', () => {
  const flags = { forceUpgrade: true, allowNamespaceSwitch: true };
  assert.throws(
    () => decide(appManifest({ package: 'official/other', version: '1.2.3-5', upgradeConfig: flags }), v1),
    refusedWith('PackageChangeRefused'),
  );
});

test('a changed env at the same version replaces the container; a changed probe is only recorded', () => {
  assert.equal(decide(appManifest({ env: { A: 'b' } }), v1).action, 'upgrade');
  assert.equal(decide(appManifest({ stopTimeoutSeconds: 30 }), v1).action, 'record');
});
