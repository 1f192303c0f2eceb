/** `molt history`'s table keeps a failed step's multi-line message inside its entry (issue 20). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderHistory } from './render.ts';
import { appManifest } from '../testing/fixtures.ts';
import type { OperationRecord, StepRecord } from '../store/types.ts';

const cause = {
  code: 'NotReady',
  message:
    'the startup probe never passed (20 attempts); last output:\nstarting 1.1.0-1\nconfig format 3 not understood',
  hint: 'fix it',
};

const operation: OperationRecord = {
  id: 7,
  app: 'notes',
  kind: 'upgrade',
  fromVersion: '1.0.0-1',
  toVersion: '1.1.0-1',
  plan: { manifest: appManifest(), trigger: 'apply', warnings: [] },
  state: { phase: 'RolledBack', cause },
  facts: {},
  startedAt: '2026-12-04T05:00:00.000Z',
  finishedAt: '2026-12-04T05:00:10.000Z',
};

const step = (id: number, name: string, phase: StepRecord['phase'], message: string, rollback = false): StepRecord => ({
  id,
  name,
  rollback,
  phase,
  message,
  output: '',
  startedAt: '2026-12-04T05:00:01.000Z',
  finishedAt: '2026-12-04T05:00:02.500Z',
});

test("a failed step's output and the cause's last output are indented under their first line, not printed loose", () => {
  const text = renderHistory(
    [
      {
        operation,
        steps: [
          step(1, 'StartNew', 'Completed', 'started'),
          step(2, 'AwaitReady', 'Failed', `${cause.code}: ${cause.message}`),
          step(3, 'RemoveNew', 'Completed', 'removed', true),
        ],
      },
    ],
    'table',
  );
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^#7 upgrade 1\.0\.0-1 → 1\.1\.0-1 {3}RolledBack/);
  // Every line after the head belongs to the entry: it starts with the entry's indent.
  for (const l of lines.slice(1)) assert.match(l, /^ {3}/, `a line broke out of the table: ${JSON.stringify(l)}`);
  const failed = lines.findIndex((l) =>
    /AwaitReady\s+Failed\s+1\.5s {2}NotReady: the startup probe never passed \(20 attempts\); last output:$/.test(l),
  );
  assert.ok(failed > 0, text);
  const column = (lines[failed] ?? '').indexOf('NotReady');
  assert.equal(lines[failed + 1], `${' '.repeat(column)}│ starting 1.1.0-1`);
  assert.equal(lines[failed + 2], `${' '.repeat(column)}│ config format 3 not understood`);
  assert.match(lines[failed + 3] ?? '', /^ {3}↩ RemoveNew/);
  assert.match(
    text,
    /\n {3}cause: NotReady: the startup probe never passed \(20 attempts\); last output:\n {10}│ starting 1\.1\.0-1\n {10}│ config format 3 not understood\n/,
  );
});

test('a one-line message renders as before', () => {
  const text = renderHistory(
    [
      {
        operation: { ...operation, state: { phase: 'Succeeded', warnings: [] } as OperationRecord['state'] },
        steps: [step(1, 'StartNew', 'Completed', 'started')],
      },
    ],
    'table',
  );
  assert.equal(
    text,
    `#7 upgrade 1.0.0-1 → 1.1.0-1   Succeeded   2026-12-04T05:00:00.000Z\n     StartNew          Completed     1.5s  started\n`,
  );
});
