import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appManifest } from '../../testing/fixtures.ts';
import { specHash } from './template.ts';
import { statusOf } from './status.ts';
import type { AppWorld } from './world.ts';

const spec = appManifest({ version: '1.0.0' }).spec;
const h = specHash(spec);
const NOW = '2030-01-01T00:00:00.000Z';

function world(fields: Partial<AppWorld> = {}, ready = true): AppWorld {
  return {
    now: 0,
    app: { name: 'notes', namespace: 'ns', generation: 3, deleting: false },
    desired: { ok: true, manifest: appManifest({ version: '1.0.0' }), hash: h },
    sts: { templateHash: h, upgradeMode: false, installed: { version: '1.0.0', hash: h, spec } },
    members: [
      {
        name: 'notes-0',
        ordinal: 0,
        pod: {
          name: 'notes-0',
          uid: 'u',
          hash: h,
          version: '1.0.0',
          terminating: false,
          phase: 'Running',
          ready,
          running: true,
          restarts: 0,
          createdAt: 0,
        },
      },
    ],
    execPods: [],
    copyJobs: [],
    copies: [],
    ...fields,
  };
}

test('a running app: phase Running, Ready True, conditions carry the generation', () => {
  const s = statusOf(world(), { step: { kind: 'Steady' } }, undefined, NOW);
  assert.equal(s.phase, 'Running');
  assert.equal(s.installedVersion, '1.0.0');
  assert.equal(s.observedGeneration, 3);
  const ready = s.conditions?.find((c) => c.type === 'Ready');
  assert.deepEqual([ready?.status, ready?.reason, ready?.observedGeneration], ['True', 'Running', 3]);
  assert.deepEqual(s.members, [{ name: 'notes-0', ordinal: 0, ready: true, version: '1.0.0' }]);
});

test('a refusal is a False Progressing condition with the rule as reason; the app keeps running', () => {
  const s = statusOf(
    world(),
    { step: { kind: 'Refuse', reason: 'DowngradeRefused', message: 'version 0.9 is lower' } },
    undefined,
    NOW,
  );
  const p = s.conditions?.find((c) => c.type === 'Progressing');
  assert.deepEqual([p?.status, p?.reason], ['False', 'DowngradeRefused']);
  assert.match(s.message ?? '', /nothing was changed/);
  assert.equal(s.phase, 'Running');
});

test('lastTransitionTime stays while a condition keeps its status; an error is reported and retried', () => {
  const first = statusOf(world(), { step: { kind: 'Steady' } }, undefined, NOW);
  const later = statusOf(world(), { step: { kind: 'Steady' } }, first, '2031-01-01T00:00:00.000Z');
  assert.equal(later.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime, NOW);
  const failed = statusOf(world(), { error: { code: 'KubeForbidden', message: 'no' } }, first, NOW);
  assert.equal(failed.conditions?.find((c) => c.type === 'Progressing')?.reason, 'ReconcileError');
});

test('an upgrade in flight shows phase Upgrading, the upgrade and the per-member status', () => {
  const target = appManifest({ version: '2.0.0' }).spec;
  const w = world();
  w.sts = {
    ...w.sts!,
    journal: {
      state: 'Upgrading',
      from: '1.0.0',
      to: '2.0.0',
      fromHash: h,
      toHash: specHash(target),
      target,
      generation: 3,
      startedAt: NOW,
      preUpgraded: [],
      postUpgraded: [],
      postAttempts: {},
    },
  };
  const s = statusOf(
    w,
    { step: { kind: 'Wait', reason: 'Upgrading', message: 'waiting for notes-0', afterMs: 1000 } },
    undefined,
    NOW,
  );
  assert.equal(s.phase, 'Upgrading');
  assert.deepEqual(s.upgrade, { from: '1.0.0', to: '2.0.0', state: 'Upgrading', startedAt: NOW });
  assert.equal(s.members?.[0]?.podUpgradeStatus, '');
  assert.match(s.message ?? '', /upgrading 1\.0\.0 → 2\.0\.0: waiting for notes-0/);
});
