import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryEntry } from '../operator/crd/status.ts';
import { renderKubeApps, renderKubeHistory, rollbackTarget } from './kube-render.ts';

const T0 = '2026-01-01T00:00:00Z';
const install: HistoryEntry = {
  kind: 'install',
  to: '1.0.0',
  toImage: 'img:1',
  result: 'Succeeded',
  startedAt: T0,
  finishedAt: T0,
};
const upgrade: HistoryEntry = {
  kind: 'upgrade',
  from: '1.0.0',
  to: '2.0.0',
  fromImage: 'img:1',
  toImage: 'img:2',
  result: 'Succeeded',
  startedAt: T0,
  finishedAt: T0,
};
const refused: HistoryEntry = {
  kind: 'upgrade',
  from: '2.0.0',
  to: '0.9.0',
  result: 'Refused',
  finishedAt: T0,
  cause: 'DowngradeRefused: lower',
};

test('history renders like local history: numbered entries, from → to, result, cause', () => {
  const text = renderKubeHistory([install, upgrade, refused]);
  assert.match(text, /^#1 install ∅ → 1\.0\.0   Succeeded   2026-01-01T00:00:00Z$/m);
  assert.match(text, /^#2 upgrade 1\.0\.0 → 2\.0\.0   Succeeded/m);
  assert.match(text, /^   image: img:1 → img:2$/m);
  assert.match(text, /^#3 upgrade 2\.0\.0 → 0\.9\.0   Refused .*\n   cause: DowngradeRefused: lower$/m);
});

test('rollback goes to the from of the last successful operation that installed what runs', () => {
  assert.deepEqual(rollbackTarget([install, upgrade, refused], '2.0.0'), { to: '1.0.0', image: 'img:1' });
  assert.equal(rollbackTarget([install], '1.0.0'), undefined, 'only the install: nothing to go back to');
  const fromSpec = { version: '1.0.0', image: 'img:1', env: { MODE: 'one' } };
  assert.deepEqual(
    rollbackTarget([install, { ...upgrade, fromSpec }], '2.0.0'),
    { to: '1.0.0', image: 'img:1', spec: fromSpec },
    'the whole previous spec when the operator recorded it',
  );
  assert.equal(rollbackTarget([install, upgrade], '3.0.0'), undefined, 'the history does not explain what runs');
});

test('get apps shows version, phase, ready members and age', () => {
  const text = renderKubeApps(
    [
      {
        metadata: { name: 'notes', creationTimestamp: new Date(Date.now() - 30_000).toISOString() },
        spec: { version: '2.0.0' },
        status: {
          phase: 'Running',
          installedVersion: '2.0.0',
          members: [{ name: 'notes-0', ordinal: 0, ready: true }],
        },
      },
    ],
    false,
  );
  assert.match(text, /^NAME\s+VERSION\s+PHASE\s+READY\s+AGE\nnotes\s+2\.0\.0\s+Running\s+1\/1\s+3\ds\n$/);
});
