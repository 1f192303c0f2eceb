import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { countTargets, failureRatioExceeded, shouldRetry, type TargetPhase } from './task-progress.ts';
import { runAttempts, schedule } from './task-scheduler.ts';

interface T {
  name: string;
  phase: TargetPhase;
  reason: string;
  message: string;
  attempts: number;
}
const target = (name: string, phase: TargetPhase = 'Pending'): T => ({
  name,
  phase,
  reason: '',
  message: '',
  attempts: 0,
});

/** A pool over `targets` whose run settles each target with `outcome(name)`, recording order and peak concurrency. */
function harness(
  targets: T[],
  outcome: (name: string) => TargetPhase,
  o: { concurrency?: number; maxFailureRatio?: number; stopAfter?: number } = {},
) {
  const live = new Map(targets.map((t) => [t.name, t]));
  const started: string[] = [];
  let running = 0;
  let peak = 0;
  const pool = {
    concurrency: o.concurrency ?? 1,
    halted: () => false,
    stopping: () => o.stopAfter !== undefined && started.length >= o.stopAfter,
    failureRatioExceeded: () =>
      failureRatioExceeded(countTargets([...live.values()].map((t) => t.phase)), o.maxFailureRatio ?? 0),
    run: async (t: T) => {
      started.push(t.name);
      live.set(t.name, { ...t, phase: 'Running' });
      peak = Math.max(peak, ++running);
      await tick();
      running--;
      live.set(t.name, { ...t, phase: outcome(t.name) });
    },
  };
  return { pool, started, peak: () => peak, live };
}

test('the scheduler resumes Running targets first, then Pending ones in order, never more than concurrency at once', async () => {
  const h = harness(
    [target('a'), target('b', 'Running'), target('c'), target('d'), target('e', 'Upgraded')],
    () => 'Upgraded',
    { concurrency: 2 },
  );
  assert.equal(await schedule([...h.live.values()], h.pool), undefined);
  assert.deepEqual(h.started, ['b', 'a', 'c', 'd']);
  assert.equal(h.peak(), 2);
});

test('the scheduler starts no new target once the failure ratio is exceeded, and says so', async () => {
  const h = harness(
    ['a', 'b', 'c', 'd'].map((n) => target(n)),
    (n) => (n === 'a' ? 'RolledBack' : 'Upgraded'),
    { maxFailureRatio: 0.2 },
  );
  assert.equal(await schedule([...h.live.values()], h.pool), 'MaxFailureRatioExceeded');
  assert.deepEqual(h.started, ['a']);
});

test('stopping starts no new target but still resumes Running ones; halted starts nothing', async () => {
  const h = harness([target('a', 'Running'), target('b'), target('c')], () => 'Upgraded', { stopAfter: 0 });
  assert.equal(await schedule([...h.live.values()], h.pool), undefined);
  assert.deepEqual(h.started, ['a']);
  const halted = harness([target('a', 'Running'), target('b')], () => 'Upgraded');
  assert.equal(await schedule([...halted.live.values()], { ...halted.pool, halted: () => true }), undefined);
  assert.deepEqual(halted.started, []);
});

test('attempts: a resumed outcome is kept unless it is retried; failures are retried up to retries; a halted worker attempts nothing more', async () => {
  const run = (
    start: T,
    results: TargetPhase[],
    resumed: { settled: T } | { again: T },
    retries = 1,
    halted = false,
  ) => {
    const calls: string[] = [];
    return runAttempts(start, {
      resume: async () => (calls.push('resume'), resumed),
      attempt: async (t) => (
        calls.push('attempt'), { ...t, attempts: t.attempts + 1, phase: results.shift() ?? 'Upgraded' }
      ),
      again: (t) => shouldRetry(t, t.attempts, retries),
      onRetry: () => void calls.push('retry'),
      halted: () => halted,
    }).then((t) => ({ phase: t.phase, attempts: t.attempts, calls }));
  };
  assert.deepEqual(await run(target('a'), ['RolledBack', 'RolledBack'], { again: target('a') }), {
    phase: 'RolledBack',
    attempts: 2,
    calls: ['attempt', 'retry', 'attempt'],
  });
  assert.deepEqual(await run(target('a'), ['RolledBack', 'Upgraded'], { again: target('a') }, 0), {
    phase: 'RolledBack',
    attempts: 1,
    calls: ['attempt'],
  });
  const running = { ...target('a', 'Running'), attempts: 1 };
  assert.deepEqual(await run(running, [], { settled: { ...running, phase: 'Upgraded' } }), {
    phase: 'Upgraded',
    attempts: 1,
    calls: ['resume'],
  });
  assert.deepEqual(await run(running, ['Upgraded'], { settled: { ...running, phase: 'RolledBack' } }), {
    phase: 'Upgraded',
    attempts: 2,
    calls: ['resume', 'retry', 'attempt'],
  });
  assert.deepEqual(await run(running, ['Upgraded'], { again: { ...running, attempts: 0 } }), {
    phase: 'Upgraded',
    attempts: 1,
    calls: ['resume', 'attempt'],
  });
  assert.deepEqual(await run(running, ['Upgraded'], { again: { ...running, attempts: 0 } }, 1, true), {
    phase: 'Running',
    attempts: 0,
    calls: ['resume'],
  });
});
