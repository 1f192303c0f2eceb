import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COMMITTED_STEPS,
  FORWARD_STEPS,
  ROLLBACK_STEPS,
  SAFE_STEPS,
  initialState,
  isFinal,
  transition,
  type OperationKind,
  type OperationState,
} from './upgrade-machine.ts';

const boom = { code: 'Boom', message: 'boom' };
const kinds: OperationKind[] = ['install', 'upgrade'];

/** Drives a machine: fails once at `failAt` (forward step index), succeeds otherwise. */
function run(kind: OperationKind, failAt: number | undefined): { final: OperationState; visited: string[] } {
  let state = initialState(kind);
  const visited: string[] = [];
  let forwardIndex = 0;
  for (let guard = 0; !isFinal(state); guard++) {
    assert.ok(guard < 50, 'machine must terminate');
    visited.push(`${state.phase}:${'step' in state ? state.step : ''}`);
    const fail = state.phase === 'Progressing' && forwardIndex++ === failAt;
    state = transition(kind, state, fail ? { type: 'StepFailed', error: boom } : { type: 'StepSucceeded' });
  }
  return { final: state, visited };
}

test('without failures every forward step runs once, in order, and ends Succeeded', () => {
  for (const kind of kinds) {
    const { final, visited } = run(kind, undefined);
    assert.equal(final.phase, 'Succeeded');
    assert.deepEqual(
      visited,
      FORWARD_STEPS[kind].map((s) => `Progressing:${s}`),
    );
  }
});

test('a failure at any step ends Aborted, RolledBack or Succeeded-with-warning — never half-way', () => {
  for (const kind of kinds) {
    FORWARD_STEPS[kind].forEach((step, i) => {
      const { final, visited } = run(kind, i);
      if (SAFE_STEPS.has(step)) {
        assert.equal(final.phase, 'Aborted', `${kind}/${step}`);
        assert.ok(!visited.some((v) => v.startsWith('RollingBack')), 'nothing to roll back');
      } else if (COMMITTED_STEPS.has(step)) {
        assert.ok(final.phase === 'Succeeded' && final.warnings.length === 1, `${kind}/${step}`);
      } else {
        assert.equal(final.phase, 'RolledBack', `${kind}/${step}`);
        assert.deepEqual(
          visited.filter((v) => v.startsWith('RollingBack')),
          ROLLBACK_STEPS[kind].map((s) => `RollingBack:${s}`),
        );
      }
    });
  }
});

test('the old instance is untouched exactly until RenameOld, and live-new exactly from RemoveOld', () => {
  const steps = FORWARD_STEPS.upgrade;
  assert.deepEqual(
    steps.filter((s) => SAFE_STEPS.has(s)),
    steps.slice(0, steps.indexOf('RenameOld')),
  );
  assert.deepEqual(
    steps.filter((s) => COMMITTED_STEPS.has(s)),
    steps.slice(steps.indexOf('RemoveOld')),
  );
});

test('a failing rollback step keeps its state so the next run retries it', () => {
  const state: OperationState = { phase: 'RollingBack', step: 'StartOld', cause: boom };
  assert.deepEqual(
    transition('upgrade', state, { type: 'StepFailed', error: { code: 'X', message: 'engine down' } }),
    state,
  );
});

test('the cause of the first failure is kept through the whole rollback', () => {
  const { final } = run('upgrade', FORWARD_STEPS.upgrade.indexOf('AwaitReady'));
  assert.ok(final.phase === 'RolledBack' && final.cause === boom);
});

test('final states accept no further events', () => {
  assert.throws(() => transition('install', { phase: 'Succeeded', warnings: [] }, { type: 'StepSucceeded' }));
});

test('the monitor window runs after the new version is ready and before the old one goes; a failure in it rolls back', () => {
  const steps = FORWARD_STEPS.upgrade;
  assert.equal(steps.indexOf('MonitorNew'), steps.indexOf('AwaitReady') + 1);
  assert.equal(steps.indexOf('RemoveOld'), steps.indexOf('MonitorNew') + 1);
  const { final, visited } = run('upgrade', steps.indexOf('MonitorNew'));
  assert.equal(final.phase, 'RolledBack');
  assert.ok(visited.includes('RollingBack:RestoreVolumes'), 'the snapshots are restored');
});
