import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordFinished, recordInstall, recordRefusal } from './history.ts';
import { HISTORY_LIMIT, type HistoryEntry } from './status.ts';

const up = (to: string, finishedAt: string): HistoryEntry => ({
  kind: 'upgrade',
  from: '1.0.0',
  to,
  result: 'Succeeded',
  finishedAt,
});

test('the install is the first entry, recorded once', () => {
  const h = recordInstall(undefined, '1.0.0', '2026-01-01T00:00:00Z', 'img:1');
  assert.deepEqual(
    h.map((e) => [e.kind, e.to, e.toImage, e.result]),
    [['install', '1.0.0', 'img:1', 'Succeeded']],
  );
  assert.equal(recordInstall(h, '1.0.0', '2026-01-02T00:00:00Z'), h);
});

test('a finished operation is appended once, however often the status is written', () => {
  const once = recordFinished([], up('2.0.0', '2026-01-01T00:00:01Z'));
  assert.equal(recordFinished(once, up('2.0.0', '2026-01-01T00:00:01Z')).length, 1);
  assert.equal(recordFinished(once, up('2.0.0', '2026-01-01T00:00:02Z')).length, 2);
});

test('a refusal is recorded once per generation', () => {
  const r = { from: '2.0.0', to: '1.0.0', cause: 'DowngradeRefused: no', generation: 4, now: '2026-01-01T00:00:00Z' };
  const h = recordRefusal([], r);
  assert.deepEqual(
    h.map((e) => [e.result, e.from, e.to, e.generation]),
    [['Refused', '2.0.0', '1.0.0', 4]],
  );
  assert.equal(recordRefusal(h, r).length, 1);
  assert.equal(recordRefusal(h, { ...r, generation: 5 }).length, 2);
});

test(`the history keeps the last ${HISTORY_LIMIT} entries`, () => {
  let h: HistoryEntry[] = [];
  for (let i = 0; i < HISTORY_LIMIT + 5; i++)
    h = recordFinished(h, up(`2.0.${i}`, `2026-01-01T00:00:${String(i).padStart(2, '0')}Z`));
  assert.equal(h.length, HISTORY_LIMIT);
  assert.equal(h[0]?.to, '2.0.5');
  assert.equal(h.at(-1)?.to, `2.0.${HISTORY_LIMIT + 4}`);
});
