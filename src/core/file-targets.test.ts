import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOrder, lastOperationRollback, selectApp, type FileApp, type PastOperation } from './file-targets.ts';

const app = (name: string, dependsOn: string[] = [], service?: string): FileApp => ({
  name,
  kind: 'App',
  dependsOn,
  ...(service ? { service } : {}),
});

describe('applyOrder', () => {
  test('file order, each app after the apps of the file it depends on; outside dependencies do not constrain', () => {
    const order = applyOrder([app('web', ['db', 'elsewhere']), app('cache'), app('db', ['cache'])]);
    assert.deepEqual(
      order.map((a) => a.name),
      ['cache', 'db', 'web'],
    );
  });
  test('a cycle keeps every app once', () => {
    assert.deepEqual(
      applyOrder([app('a', ['b']), app('b', ['a'])]).map((a) => a.name),
      ['b', 'a'],
    );
  });
});

describe('selectApp', () => {
  const apps = [app('shop-db', [], 'db'), app('shop-web', ['shop-db'], 'web')];
  test('by Compose service, else by app name', () => {
    assert.equal(selectApp(apps, 'db')?.name, 'shop-db');
    assert.equal(selectApp(apps, 'shop-web')?.name, 'shop-web');
    assert.equal(selectApp(apps, 'cache'), undefined);
  });
});

describe('lastOperationRollback', () => {
  const op = (o: Partial<PastOperation> & Pick<PastOperation, 'id' | 'toVersion'>): PastOperation => ({
    kind: 'upgrade',
    plan: { trigger: 'apply', previous: {} },
    state: { phase: 'Succeeded' },
    ...o,
  });
  const install = op({ id: 1, kind: 'install', toVersion: '1.0.0', plan: { trigger: 'apply' } });
  const upgrade = op({ id: 2, fromVersion: '1.0.0', toVersion: '2.0.0' });

  test('a succeeded upgrade that runs now goes back to where it came from', () => {
    assert.deepEqual(lastOperationRollback([install, upgrade], '2.0.0'), { ok: true, from: '2.0.0', to: '1.0.0' });
  });
  test('only an install: nothing before it', () => {
    const v = lastOperationRollback([install], '1.0.0');
    assert.equal(v.ok, false);
    assert.match(!v.ok ? v.reason : '', /#1 install ∅ → 1\.0\.0\) installed it: nothing before it/);
  });
  test('no operation at all (an adopted container)', () => {
    assert.deepEqual(lastOperationRollback([], '1.0.0'), { ok: false, reason: 'it has no recorded operation' });
  });
  test('a failed upgrade was already rolled back: the older upgrade before it is not taken back', () => {
    const failed = op({ id: 3, fromVersion: '2.0.0', toVersion: '3.0.0', state: { phase: 'RolledBack' } });
    const v = lastOperationRollback([install, upgrade, failed], '2.0.0');
    assert.equal(v.ok, false);
    assert.match(!v.ok ? v.reason : '', /ended RolledBack/);
  });
  test('an operation in flight is for molt recover', () => {
    const running = op({ id: 3, fromVersion: '2.0.0', toVersion: '3.0.0', state: { phase: 'Progressing' } });
    const v = lastOperationRollback([install, upgrade, running], '2.0.0');
    assert.match(!v.ok ? v.reason : '', /still in flight: `molt recover`/);
  });
  test('a rollback is itself taken back, like helm rollback to the previous revision', () => {
    const back = op({ id: 3, fromVersion: '2.0.0', toVersion: '1.0.0', plan: { trigger: 'rollback', previous: {} } });
    assert.deepEqual(lastOperationRollback([install, upgrade, back], '1.0.0'), {
      ok: true,
      from: '1.0.0',
      to: '2.0.0',
    });
  });
  test('an operation that is not what runs now is not taken back', () => {
    assert.equal(lastOperationRollback([install, upgrade], '1.5.0').ok, false);
  });
});
