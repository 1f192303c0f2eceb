import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppStatus } from '../operator/crd/status.ts';
import type { MoltObject } from './kube-connect.ts';
import { appOutcome } from './kube-wait.ts';

const T = '2026-01-01T00:00:00Z';
const cond = (type: string, status: 'True' | 'False', reason: string, message = '') => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: T,
});

function app(spec: Record<string, unknown>, status: AppStatus, generation = 3): MoltObject {
  return { metadata: { name: 'notes', generation }, spec, status: status as Record<string, unknown> };
}

const v2 = { version: '2.0.0', image: 'img:2' };
const running2: AppStatus = {
  observedGeneration: 3,
  phase: 'Running',
  installedVersion: '2.0.0',
  image: 'img:2',
  conditions: [cond('Ready', 'True', 'Running'), cond('Progressing', 'False', 'UpToDate')],
};

test('an App is pending until the operator observed the new generation, even if it looks done', () => {
  assert.equal(appOutcome(app(v2, { ...running2, observedGeneration: 2 }), 3).kind, 'pending');
  assert.equal(appOutcome(app(v2, running2), 3).kind, 'done');
});

test('upgrading and rolling back are pending; running the old version with Ready is not done', () => {
  assert.equal(appOutcome(app(v2, { ...running2, phase: 'Upgrading' }), 3).kind, 'pending');
  assert.equal(appOutcome(app(v2, { ...running2, phase: 'RollingBack' }), 3).kind, 'pending');
  assert.equal(
    appOutcome(
      app(v2, {
        ...running2,
        installedVersion: '1.0.0',
        image: 'img:1',
        conditions: [cond('Ready', 'True', 'Running'), cond('Progressing', 'False', 'MembersNotReady')],
      }),
      3,
    ).kind,
    'pending',
  );
});

test('a refusal or a rollback the operator wrote is a failure with its reason and message', () => {
  const refused = appOutcome(
    app(
      { version: '0.9.0', image: 'img:0' },
      {
        ...running2,
        conditions: [
          cond('Ready', 'True', 'Running'),
          cond('Progressing', 'False', 'DowngradeRefused', 'version 0.9.0 is lower'),
        ],
      },
    ),
    3,
  );
  assert.deepEqual(refused, { kind: 'failed', reason: 'DowngradeRefused', message: 'version 0.9.0 is lower' });
  const rolledBack = appOutcome(
    app(
      { version: '3.0.0', image: 'img:3' },
      {
        ...running2,
        conditions: [
          cond('Ready', 'True', 'Running'),
          cond('Progressing', 'False', 'RolledBack', 'ImagePullFailed: x'),
        ],
      },
    ),
    3,
  );
  assert.equal(rolledBack.kind === 'failed' && rolledBack.reason, 'RolledBack');
});

test('an upgrade rolled back or aborted is told by its failure code from status.lastUpgrade, as locally', () => {
  for (const ended of ['RolledBack', 'Aborted'] as const) {
    const outcome = appOutcome(
      app(
        { version: '3.0.0', image: 'img:3' },
        {
          ...running2,
          conditions: [cond('Ready', 'True', 'Running'), cond('Progressing', 'False', ended, 'the upgrade ended')],
          lastUpgrade: { from: '2.0.0', to: '3.0.0', outcome: ended, reason: 'PostUpgradeFailed', message: 'exit 3' },
        },
      ),
      3,
    );
    assert.deepEqual(outcome, { kind: 'failed', reason: 'PostUpgradeFailed', message: 'exit 3', ended });
  }
});

test('a settings change after a rolled-back upgrade is done, not failed (the app runs its spec)', () => {
  const s = {
    ...running2,
    conditions: [cond('Ready', 'True', 'Running'), cond('Progressing', 'False', 'RolledBack', 'old news')],
  };
  assert.equal(appOutcome(app(v2, s), 3).kind, 'done');
});

test('a release app is done when it runs the release its spec names', () => {
  const s: AppStatus = {
    observedGeneration: 3,
    phase: 'Running',
    release: 'r2',
    installedVersion: '2.0.0',
    conditions: [cond('Ready', 'True', 'AllMembersReady'), cond('Progressing', 'False', 'UpToDate')],
  };
  assert.equal(appOutcome(app({ release: 'r2' }, s), 3).kind, 'done');
  assert.equal(appOutcome(app({ release: 'r3' }, s), 3).kind, 'pending');
});
