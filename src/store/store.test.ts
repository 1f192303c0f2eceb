import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppBusyError } from '../core/errors.ts';
import { appManifest } from '../testing/fixtures.ts';
import { initialState } from '../core/upgrade-machine.ts';
import { Store } from './store.ts';

const freshHome = () => join(mkdtempSync(join(tmpdir(), 'molt-store-')), 'home');

test('the store directory and database are owner-only', () => {
  const home = freshHome();
  Store.open(home).close();
  assert.equal(statSync(home).mode & 0o777, 0o700);
  assert.equal(statSync(join(home, 'state.db')).mode & 0o777, 0o600);
});

test('an operation journaled by one process is found in flight by the next', () => {
  const home = freshHome();
  const a = Store.open(home);
  const op = a.createOperation({
    app: 'notes',
    kind: 'upgrade',
    fromVersion: '1.0.0',
    toVersion: '2.0.0',
    plan: { manifest: appManifest(), trigger: 'apply', warnings: [] },
    state: initialState('upgrade'),
  });
  a.saveOperationState(op.id, { phase: 'Progressing', step: 'StopOld' }, { ip: '10.90.0.10' }, false);
  const step = a.startStep(op.id, 'StopOld', false);
  a.close();
  const b = Store.open(home);
  const found = b.inFlightOperation('notes');
  assert.deepEqual(found?.state, { phase: 'Progressing', step: 'StopOld' });
  assert.equal(found?.facts.ip, '10.90.0.10');
  b.markInterruptedSteps(op.id);
  assert.equal(b.listSteps(op.id).find((s) => s.id === step)?.phase, 'Interrupted');
  b.saveOperationState(op.id, { phase: 'Succeeded', warnings: [] }, {}, true);
  assert.equal(b.inFlightOperation('notes'), undefined);
  b.close();
});

test('a lock held by a live process makes others busy; a dead holder is taken over', async () => {
  const home = freshHome();
  const store = Store.open(home);
  const child = spawn('sleep', ['30']);
  try {
    store
      .prepare("INSERT INTO locks (app, pid, host, command, acquired_at) VALUES ('notes', ?, ?, 'molt apply', 'now')")
      .run(child.pid ?? 0, (await import('node:os')).hostname());
    assert.throws(
      () => store.lock('notes', 'molt apply'),
      (e) => e instanceof AppBusyError && /molt apply/.test(e.message),
    );
    assert.match(store.lockHolder('notes') ?? '', new RegExp(`molt apply.*pid ${child.pid}`));
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  assert.equal(store.lockHolder('notes'), undefined, 'a dead holder holds nothing');
  store.lock('notes', 'molt apply');
  store.unlock('notes');
  store.close();
});

test('deleting an app removes its operations and steps', () => {
  const store = Store.open(freshHome());
  store.saveApp('notes', appManifest(), { phase: 'Running', conditions: [] });
  const op = store.createOperation({
    app: 'notes',
    kind: 'install',
    toVersion: '1.2.3-4',
    plan: { manifest: appManifest(), trigger: 'apply', warnings: [] },
    state: initialState('install'),
  });
  store.startStep(op.id, 'EnsureImage', false);
  store.deleteApp('notes');
  assert.equal(store.getApp('notes'), undefined);
  assert.deepEqual(store.listOperations('notes'), []);
  store.close();
});
