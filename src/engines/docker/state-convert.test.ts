import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromCompatList, fromInspect, fromLibpodList } from './state-convert.ts';

test('Podman list entries: exit code, times, health and PID from one call', () => {
  const running = fromLibpodList({
    Id: 'a1',
    Names: ['db'],
    Labels: { 'dev.molt.app': 'db' },
    State: 'running',
    Status: 'starting',
    ExitCode: 0,
    Exited: false,
    ExitedAt: 1796361325,
    StartedAt: 1796361325,
    Pid: 12854,
  });
  assert.deepEqual(running, {
    id: 'a1',
    name: 'db',
    app: 'db',
    running: true,
    status: 'running',
    startedAt: '2026-12-04T05:15:25.000Z',
    health: 'starting',
    pid: 12854,
  });
  const exited = fromLibpodList({
    Id: 'b1',
    Names: ['b'],
    State: 'exited',
    Status: '',
    ExitCode: 137,
    Exited: true,
    ExitedAt: 1796361325,
    StartedAt: 1796361303,
    Pid: 0,
  });
  assert.equal(exited.exitCode, 137);
  assert.equal(exited.running, false);
  assert.equal(exited.finishedAt, '2026-12-04T05:15:25.000Z');
  assert.equal(exited.health, undefined);
});

test('Docker list entries: the exit code and health from the Status text', () => {
  assert.equal(
    fromCompatList({ Id: 'x', Names: ['/b'], State: 'exited', Status: 'Exited (137) 6 seconds ago' }).exitCode,
    137,
  );
  const up = fromCompatList({ Id: 'x', Names: ['/a'], State: 'running', Status: 'Up 5 seconds (unhealthy)' });
  assert.equal(up.name, 'a');
  assert.equal(up.health, 'unhealthy');
  assert.equal(up.exitCode, undefined);
});

test('inspect: OOMKilled, RestartCount, zero times dropped', () => {
  const s = fromInspect({
    Id: 'x',
    Name: '/a',
    State: {
      Status: 'exited',
      Running: false,
      ExitCode: 137,
      OOMKilled: true,
      Pid: 0,
      StartedAt: '2026-12-04T05:15:05.684331388Z',
      FinishedAt: '0001-01-01T00:00:00Z',
      Health: { Status: '' },
    },
    RestartCount: 3,
  });
  assert.equal(s.oomKilled, true);
  assert.equal(s.restartCount, 3);
  assert.equal(s.exitCode, 137);
  assert.equal(s.finishedAt, undefined);
  assert.equal(s.startedAt, '2026-12-04T05:15:05.684Z');
});
