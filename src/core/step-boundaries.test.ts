import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundaries, ROLLOUT_STEPS, TASK_STEPS } from './step-boundaries.ts';
import { FORWARD_STEPS, ROLLBACK_STEPS } from './upgrade-machine.ts';

test('boundaries lists before then after of every step, in order', () => {
  assert.deepEqual(boundaries(['A', 'B']), ['A:before', 'A:after', 'B:before', 'B:after']);
  assert.deepEqual(boundaries([]), []);
});

test('no step name is used twice across all step lists, so a kill point names one boundary kind', () => {
  const all = [
    ...FORWARD_STEPS.upgrade,
    ...ROLLBACK_STEPS.upgrade,
    ...ROLLOUT_STEPS.upgrade,
    ...ROLLOUT_STEPS.rollback,
    ...TASK_STEPS,
  ];
  const install = new Set<string>(FORWARD_STEPS.install);
  const ours = [...ROLLOUT_STEPS.upgrade, ...ROLLOUT_STEPS.rollback, ...TASK_STEPS];
  assert.equal(new Set(ours).size, ours.length, 'rollout and task steps are distinct');
  for (const s of ours) assert.equal(all.filter((x) => x === s).length, 1, `${s} appears once`);
  for (const s of ours) assert.ok(!install.has(s), `${s} is not an install step`);
});

test('the rollout lists go from journaling the rollout to its final status', () => {
  for (const steps of [ROLLOUT_STEPS.upgrade, ROLLOUT_STEPS.rollback]) {
    assert.match(steps[0], /^Begin/);
    assert.match(steps.at(-1)!, /^Finish/);
  }
  assert.equal(TASK_STEPS[0], 'StartTask');
  assert.equal(TASK_STEPS.at(-1), 'FinishTask');
});
