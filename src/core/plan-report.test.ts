/**
 * What plan and apply report (issue 20): a rollback is planned as a rollback, not as a forced
 * downgrade, and changes nothing the user wrote; `plan` names the fields that differ and the
 * startup-probe budget that will really apply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, describeStep, differingFields } from './plan.ts';
import { appManifest } from '../testing/fixtures.ts';

const probe = { exec: ['cat', '/tmp/ready'], periodSeconds: 0.5, failureThreshold: 20, timeoutSeconds: 5 };
const v1 = appManifest({ version: '1.0.0-1', image: 'localhost/notes:1.0.0-1', probes: { startup: probe } });
const v2 = appManifest({ version: '1.1.0-1', image: 'localhost/notes:1.1.0-1', probes: { startup: probe } });

test('going back to the previous version is a rollback: no forceUpgrade needed, no DOWNGRADE warning, the manifest untouched', () => {
  const before = structuredClone(v1);
  const d = decide(v1, v2, { goingBack: true });
  assert.equal(d.action, 'upgrade');
  assert.ok(d.action === 'upgrade');
  assert.deepEqual(d.warnings, []);
  assert.equal(d.reason, 'rollback 1.1.0-1 → 1.0.0-1');
  assert.deepEqual(v1, before, 'the spec to record is the one the user applied');
  assert.equal(v1.spec.upgradeConfig.forceUpgrade, false);
});

test('the same lower version applied by hand is still refused (rollback is not a loophole)', () => {
  assert.throws(() => decide(v1, v2), /downgrades are refused/);
});

test('a settings-only change names every field that differs', () => {
  const changed = appManifest({
    ...v1.spec,
    stopTimeoutSeconds: 30,
    upgradeConfig: { forceUpgrade: true, allowNamespaceSwitch: false },
  });
  const d = decide(changed, v1);
  assert.equal(d.action, 'record');
  assert.match(d.reason, /: spec\.stopTimeoutSeconds, spec\.upgradeConfig\.forceUpgrade$/);
});

test('differingFields goes as deep as both sides are objects', () => {
  const a = { metadata: { labels: { tier: 'db' } }, spec: { env: { A: '1', B: '2' }, volumes: [{ name: 'x' }] } };
  const b = { metadata: { labels: { tier: 'web' } }, spec: { env: { A: '1', C: '3' }, volumes: [{ name: 'y' }] } };
  assert.deepEqual(differingFields(a, b), ['metadata.labels.tier', 'spec.env.B', 'spec.env.C', 'spec.volumes']);
  assert.deepEqual(differingFields(a, structuredClone(a)), []);
});

test('plan shows the startup-probe budget that applies: the normal one to installs, the raised one to upgrades', () => {
  assert.match(describeStep('AwaitReady', v1, undefined), /\(20 × 0\.5s\)/);
  assert.match(describeStep('AwaitReady', v2, v1), /\(200 × 0\.5s, the raised upgrade budget\)/);
  const own = appManifest({ ...v2.spec, upgrade: { ...v2.spec.upgrade, startupFailureThreshold: 45 } });
  assert.match(describeStep('AwaitReady', own, v1), /\(45 × 0\.5s, the raised upgrade budget\)/);
  const noProbe = appManifest({ minReadySeconds: 3 });
  assert.match(describeStep('AwaitReady', noProbe, v1), /run 3s/);
});
