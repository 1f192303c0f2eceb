import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskBusyError } from '../core/task-errors.ts';
import type { UpgradeTaskManifest } from '../core/task.ts';
import { Store } from './store.ts';
import { TaskStore, type TargetRecord } from './task-store.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const open = () => {
  const dir = mkdtempSync(join(tmpdir(), 'molt-task-store-'));
  dirs.push(dir);
  const store = Store.open(join(dir, 'home'));
  return { store, tasks: new TaskStore(store) };
};
const task = (name = 't1'): UpgradeTaskManifest => ({
  apiVersion: 'molt.dev/v1alpha1',
  kind: 'UpgradeTask',
  metadata: { name, labels: {} },
  spec: {
    target: { app: 'a' },
    toVersion: '1.1.0',
    imageTemplate: '{repository}:{version}',
    options: { timeout: '10m', retries: 0, concurrency: 1, maxFailureRatio: 0 },
  },
});
const target = (name: string, ord: number): TargetRecord => ({
  target: name,
  ord,
  endpoint: 'local',
  app: name,
  phase: 'Pending',
  reason: '',
  message: '',
  attempts: 0,
});

test('a task is created Pending, and re-applying its manifest keeps the run state', () => {
  const { store, tasks } = open();
  tasks.saveTask(task(), '/x/t.yaml');
  tasks.saveState('t1', { phase: 'Started', retries: 0, runs: 1, startTime: '2025-01-01T00:00:00Z' });
  tasks.saveTask(task(), '/x/t.yaml');
  assert.equal(tasks.getTask('t1')?.state.phase, 'Started');
  assert.equal(tasks.listTasks().length, 1);
  store.close();
});

test('targets are journaled once, in order; a second insert adds nothing', () => {
  const { store, tasks } = open();
  tasks.saveTask(task(), undefined);
  tasks.insertTargets('t1', [target('b', 0), target('a', 1)]);
  tasks.insertTargets('t1', [target('b', 0), target('c', 2)]);
  assert.deepEqual(
    tasks.listTargets('t1').map((t) => t.target),
    ['b', 'a', 'c'],
  );
  tasks.saveTarget('t1', { ...target('a', 1), phase: 'Upgraded', operation: 7, attempts: 1 });
  assert.deepEqual(tasks.listTargets('t1').find((t) => t.target === 'a')?.operation, 7);
  store.close();
});

test('a Waiting status is replaced in place by its settled form; entries keep their first order', () => {
  const { store, tasks } = open();
  tasks.saveTask(task(), undefined);
  const w = {
    target: 'a',
    step: 'StopOld',
    startTime: 't0',
    lastUpdatedAt: 't0',
    phase: 'Waiting' as const,
    message: '',
    reason: '',
  };
  tasks.upsertStatus('t1', 'op1:1', w);
  tasks.upsertStatus('t1', 'op1:2', { ...w, step: 'RenameOld' });
  tasks.upsertStatus('t1', 'op1:1', { ...w, phase: 'Completed', lastUpdatedAt: 't1', message: 'stopped' });
  assert.deepEqual(
    tasks.listStatuses('t1').map((e) => `${e.step}:${e.phase}`),
    ['StopOld:Completed', 'RenameOld:Waiting'],
  );
  store.close();
});

test('a second live worker is refused with TaskBusy naming the first; a dead one is taken over', async () => {
  const { store, tasks } = open();
  tasks.saveTask(task('busy'), undefined);
  const other = spawn('sh', ['-c', 'sleep 30', 'task', 'busy'], { stdio: 'ignore' });
  try {
    store
      .prepare(
        "UPDATE tasks SET worker_pid = ?, worker_host = (SELECT ?), worker_started_at = 'then' WHERE name = 'busy'",
      )
      .run(other.pid ?? 0, (await import('node:os')).hostname());
    assert.throws(
      () => tasks.claimWorker('busy', undefined),
      (e: unknown) => e instanceof TaskBusyError && new RegExp(`pid ${other.pid}`).test(e.message),
    );
  } finally {
    other.kill('SIGKILL');
    await new Promise((r) => other.once('exit', r));
  }
  tasks.claimWorker('busy', '/tmp/log');
  assert.equal(tasks.getTask('busy')?.worker?.pid, process.pid);
  tasks.releaseWorker('busy');
  assert.equal(tasks.getTask('busy')?.worker, undefined);
  store.close();
});

test('deleting a task removes its targets and statuses; inventories are kept by name', () => {
  const { store, tasks } = open();
  tasks.saveTask(task(), undefined);
  tasks.insertTargets('t1', [target('a', 0)]);
  tasks.deleteTask('t1');
  assert.equal(tasks.getTask('t1'), undefined);
  assert.deepEqual(tasks.listTargets('t1'), []);
  tasks.saveInventory(
    {
      apiVersion: 'molt.dev/v1alpha1',
      kind: 'Inventory',
      metadata: { name: 'lab', labels: {} },
      spec: { endpoints: [{ name: 'a', engine: 'unix:///a.sock' }] },
    },
    undefined,
  );
  assert.equal(tasks.getInventory('lab')?.manifest.spec.endpoints[0]?.engine, 'unix:///a.sock');
  store.close();
});
