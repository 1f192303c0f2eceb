import { test } from 'node:test';
import assert from 'node:assert/strict';
import { observedStatus, type ContainerState } from './observed.ts';
import type { AppStatus } from './status.ts';

const now = '2026-12-04T06:00:00.000Z';
const recorded: AppStatus = {
  phase: 'Running',
  installedVersion: '1.0.0-1',
  containerId: 'c1',
  ip: '10.0.0.2',
  conditions: [
    { type: 'Ready', status: 'True', reason: 'Running', message: 'ok', lastTransitionTime: '2026-12-04T05:00:00.000Z' },
  ],
};
const running: ContainerState = {
  id: 'c1',
  name: 'db',
  running: true,
  status: 'running',
  startedAt: '2026-12-04T05:00:00.000Z',
  restartCount: 2,
};
const ready = (s: AppStatus) => s.conditions.find((c) => c.type === 'Ready')!;

test('a running container: Running, Ready=True, restartCount shown', () => {
  const s = observedStatus(recorded, true, { observed: true, container: running, now });
  assert.equal(s.phase, 'Running');
  assert.equal(ready(s).status, 'True');
  assert.equal(s.restartCount, 2);
  assert.equal(ready(s).lastTransitionTime, '2026-12-04T05:00:00.000Z');
});

test("an exited container not stopped on purpose: Degraded, Ready=False with the exit code and the engine's reason", () => {
  const s = observedStatus(recorded, true, {
    observed: true,
    container: { ...running, running: false, status: 'exited', exitCode: 137, finishedAt: '2026-12-04T05:59:00.000Z' },
    now,
  });
  assert.equal(s.phase, 'Degraded');
  assert.equal(ready(s).status, 'False');
  assert.equal(ready(s).reason, 'Error');
  assert.match(ready(s).message, /exited with code 137/);
  assert.equal(ready(s).lastTransitionTime, '2026-12-04T05:59:00.000Z');
  assert.equal(s.container?.exitCode, 137);
  const oom = observedStatus(recorded, true, {
    observed: true,
    container: { ...running, running: false, status: 'exited', exitCode: 137, oomKilled: true },
    now,
  });
  assert.equal(ready(oom).reason, 'OOMKilled');
});

test('stopped with molt stop: Stopped; gone: Degraded ContainerMissing; unhealthy: Degraded', () => {
  const stopped = observedStatus(recorded, true, {
    observed: true,
    container: { ...running, running: false, status: 'exited', exitCode: 0 },
    intent: { desired: 'stopped', changedAt: now },
    now,
  });
  assert.equal(stopped.phase, 'Stopped');
  assert.equal(ready(stopped).reason, 'StoppedByUser');
  const gone = observedStatus(recorded, true, { observed: true, now });
  assert.equal(gone.phase, 'Degraded');
  assert.equal(ready(gone).reason, 'ContainerMissing');
  const sick = observedStatus(recorded, true, { observed: true, container: { ...running, health: 'unhealthy' }, now });
  assert.equal(sick.phase, 'Degraded');
  assert.equal(ready(sick).reason, 'Unhealthy');
});

test('the journal wins while an operation is in flight, and for apps never installed; an unreachable engine makes Ready Unknown', () => {
  const upgrading: AppStatus = { ...recorded, phase: 'Upgrading' };
  assert.deepEqual(observedStatus(upgrading, true, { observed: true, now }), upgrading);
  const failed: AppStatus = { phase: 'Failed', conditions: [] };
  assert.deepEqual(observedStatus(failed, false, { observed: true, now }), failed);
  const unknown = observedStatus(recorded, true, { observed: false, now });
  assert.equal(unknown.phase, 'Running');
  assert.equal(ready(unknown).status, 'Unknown');
});
