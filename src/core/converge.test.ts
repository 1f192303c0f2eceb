import { test } from 'node:test';
import assert from 'node:assert/strict';
import { converge, DependencyCycle, startOrder } from './converge.ts';
import type { ContainerState } from './observed.ts';

const exited: ContainerState = { id: 'c1', name: 'db', running: false, status: 'exited', exitCode: 137 };

test('converge: a stopped-on-purpose app is left alone, a gone one recreated, an exited one started', () => {
  assert.equal(converge(exited, { desired: 'stopped', changedAt: 't' }).action, 'none');
  assert.equal(converge(undefined, { desired: 'stopped', changedAt: 't' }).action, 'none');
  assert.equal(converge(undefined, undefined).action, 'recreate');
  const start = converge(exited, { desired: 'running', changedAt: 't' });
  assert.equal(start.action, 'start');
  assert.match(start.reason, /exited with code 137 \(killed by signal 9/);
  assert.equal(converge({ ...exited, running: true, status: 'running' }, undefined).action, 'none');
});

test('startOrder puts dependencies first, ties by name', () => {
  const r = startOrder([
    { name: 'web', dependsOn: ['api'] },
    { name: 'api', dependsOn: ['db', 'cache'] },
    { name: 'db', dependsOn: [] },
    { name: 'cache', dependsOn: [] },
    { name: 'alone', dependsOn: [] },
  ]);
  assert.deepEqual(r.order, ['alone', 'cache', 'db', 'api', 'web']);
  assert.deepEqual(r.blocked, []);
});

test('startOrder: a missing dependency blocks the app and its dependents only', () => {
  const r = startOrder([
    { name: 'web', dependsOn: ['api'] },
    { name: 'api', dependsOn: ['nosuch'] },
    { name: 'db', dependsOn: [] },
  ]);
  assert.deepEqual(r.order, ['db']);
  assert.deepEqual(r.blocked, [
    { name: 'api', missing: 'nosuch' },
    { name: 'web', missing: 'nosuch' },
  ]);
});

test('startOrder: a cycle is an error naming it', () => {
  assert.throws(
    () =>
      startOrder([
        { name: 'a', dependsOn: ['b'] },
        { name: 'b', dependsOn: ['c'] },
        { name: 'c', dependsOn: ['a'] },
        { name: 'd', dependsOn: [] },
      ]),
    (e: unknown) => {
      assert.ok(e instanceof DependencyCycle);
      assert.deepEqual(e.cycle, ['a', 'b', 'c', 'a']);
      return true;
    },
  );
  assert.throws(() => startOrder([{ name: 'self', dependsOn: ['self'] }]), /self → self/);
});
