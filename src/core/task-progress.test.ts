import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  countTargets,
  entryOfStep,
  failureRatioExceeded,
  finalPhase,
  outcomeOfOperation,
  settleEntry,
  shouldRetry,
  waitingEntry,
  type TargetPhase,
} from './task-progress.ts';

const phases = (spec: Partial<Record<TargetPhase, number>>): TargetPhase[] =>
  Object.entries(spec).flatMap(([p, n]) => Array<TargetPhase>(n ?? 0).fill(p as TargetPhase));

test('counts put upgraded and skipped under done, every failure kind under failed', () => {
  assert.deepEqual(
    countTargets(
      phases({
        Upgraded: 3,
        Skipped: 1,
        RolledBack: 1,
        Aborted: 1,
        Refused: 1,
        Incomplete: 1,
        Running: 2,
        Pending: 4,
        NotStarted: 2,
      }),
    ),
    { total: 16, done: 4, failed: 4, running: 2, pending: 4, notStarted: 2 },
  );
});

test('the ratio rule stops only once the failed share is above maxFailureRatio (5 of 20 with 0.2, not 4)', () => {
  assert.equal(failureRatioExceeded(countTargets(phases({ RolledBack: 4, Pending: 16 })), 0.2), false);
  assert.equal(failureRatioExceeded(countTargets(phases({ RolledBack: 5, Pending: 15 })), 0.2), true);
  assert.equal(
    failureRatioExceeded(countTargets(phases({ RolledBack: 1, Pending: 19 })), 0),
    true,
    'the default 0 stops at the first failure',
  );
  assert.equal(failureRatioExceeded(countTargets(phases({ RolledBack: 20 })), 1), false, '1 never stops');
  assert.equal(failureRatioExceeded(countTargets([]), 0), false);
});

test('an operation outcome maps to the target phase with the cause as reason', () => {
  assert.equal(outcomeOfOperation({ phase: 'Succeeded', warnings: [] }, '1.1.0').phase, 'Upgraded');
  const rolled = outcomeOfOperation(
    { phase: 'RolledBack', cause: { code: 'ContainerExited', message: 'exited with code 7' } },
    '1.1.0',
  );
  assert.deepEqual([rolled.phase, rolled.reason], ['RolledBack', 'ContainerExited']);
  assert.match(rolled.message, /old version was restored/);
  assert.equal(
    outcomeOfOperation({ phase: 'Aborted', cause: { code: 'ImageUnavailable', message: 'x' } }, '1').phase,
    'Aborted',
  );
  assert.equal(
    outcomeOfOperation({ phase: 'RollingBack', step: 'StartOld', cause: { code: 'X', message: 'x' } }, '1').phase,
    'Incomplete',
  );
});

test('retries cover failed upgrades only, never refusals, interruptions or exhausted attempts', () => {
  const rolled = { phase: 'RolledBack' as const, reason: 'ProbeFailed', message: '' };
  assert.equal(shouldRetry(rolled, 1, 0), false);
  assert.equal(shouldRetry(rolled, 1, 2), true);
  assert.equal(shouldRetry(rolled, 3, 2), false);
  assert.equal(shouldRetry({ phase: 'Refused', reason: 'FromVersionMismatch', message: '' }, 1, 5), false);
  assert.equal(shouldRetry({ ...rolled, reason: 'Interrupted' }, 1, 5), false);
});

test('the final phase: cancelled and ratio-stopped tasks are Error, failures within the ratio still Success', () => {
  const c = (s: Partial<Record<TargetPhase, number>>) => countTargets(phases(s));
  assert.deepEqual(finalPhase(c({ Upgraded: 20 }), 0, undefined).phase, 'Success');
  assert.equal(finalPhase(c({ Upgraded: 19, RolledBack: 1 }), 0.1, undefined).reason, 'CompletedWithFailures');
  const stopped = finalPhase(c({ Upgraded: 10, RolledBack: 5, NotStarted: 5 }), 0.2, 'MaxFailureRatioExceeded');
  assert.deepEqual([stopped.phase, stopped.reason], ['Error', 'MaxFailureRatioExceeded']);
  assert.match(stopped.message, /5 of 20 targets failed \(25%\), more than maxFailureRatio 0\.2 allows/);
  assert.equal(finalPhase(c({ Upgraded: 2, NotStarted: 3 }), 1, 'Cancelled').reason, 'Cancelled');
  assert.deepEqual(
    [finalPhase(c({}), 0, undefined).phase, finalPhase(c({}), 0, undefined).reason],
    ['Error', 'NoTargets'],
  );
});

test('a journaled step becomes Waiting while it runs, then Completed or Errored with the code as reason', () => {
  const step = { name: 'AwaitReady', startedAt: '2025-01-01T00:00:00.000Z', message: '' };
  assert.deepEqual(entryOfStep('a1', { ...step, phase: 'Started' }), {
    target: 'a1',
    step: 'AwaitReady',
    startTime: step.startedAt,
    lastUpdatedAt: step.startedAt,
    phase: 'Waiting',
    message: '',
    reason: '',
  });
  const done = entryOfStep('a1', {
    ...step,
    phase: 'Completed',
    finishedAt: '2025-01-01T00:00:02.000Z',
    message: 'ready after 3 probes',
  });
  assert.deepEqual(
    [done.phase, done.lastUpdatedAt, done.message],
    ['Completed', '2025-01-01T00:00:02.000Z', 'ready after 3 probes'],
  );
  const failed = entryOfStep('a1', {
    ...step,
    phase: 'Failed',
    finishedAt: step.startedAt,
    message: 'ProbeFailed: startup probe failed 5 times',
  });
  assert.deepEqual(
    [failed.phase, failed.reason, failed.message],
    ['Errored', 'ProbeFailed', 'startup probe failed 5 times'],
  );
  const odd = entryOfStep('a1', { ...step, phase: 'Failed', message: 'something odd' });
  assert.deepEqual([odd.reason, odd.message], ['Failed', 'something odd']);
  assert.equal(entryOfStep('a1', { ...step, phase: 'Interrupted', message: '' }).reason, 'Interrupted');
});

test('a task-run step settles from Waiting; Errored always gets a reason and every settled entry a message', () => {
  const w = waitingEntry('a1', 'Precheck', '2025-01-01T00:00:00.000Z');
  const e = settleEntry(w, '2025-01-01T00:00:01.000Z', { phase: 'Errored', reason: '', message: '' });
  assert.deepEqual(
    [e.phase, e.reason, e.message, e.startTime, e.lastUpdatedAt],
    ['Errored', 'Failed', 'failed', w.startTime, '2025-01-01T00:00:01.000Z'],
  );
  assert.equal(settleEntry(w, w.startTime, { phase: 'Completed', message: '' }).message, 'done');
});
