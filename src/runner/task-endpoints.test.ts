import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EndpointSpec, UpgradeTaskManifest } from '../core/task.ts';
import { EndpointUnusableError, InventoryNotFoundError } from '../core/task-errors.ts';
import { Store } from '../store/store.ts';
import { TaskStore } from '../store/task-store.ts';
import { LOCAL_ENDPOINT, openEndpoints } from './task-endpoints.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function setup(endpoints?: EndpointSpec[]) {
  const dir = mkdtempSync(join(tmpdir(), 'molt-endpoints-'));
  dirs.push(dir);
  const mainHome = join(dir, 'control');
  const mainStore = Store.open(mainHome);
  const tasks = new TaskStore(mainStore);
  if (endpoints)
    tasks.saveInventory(
      {
        apiVersion: 'molt.dev/v1alpha1',
        kind: 'Inventory',
        metadata: { name: 'lab', labels: {} },
        spec: { endpoints },
      },
      undefined,
    );
  const task: UpgradeTaskManifest = {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'UpgradeTask',
    metadata: { name: 't', labels: {} },
    spec: {
      target: { app: 'x' },
      ...(endpoints ? { inventory: 'lab' } : {}),
      toVersion: '1.1.0',
      imageTemplate: '{repository}:{version}',
      options: { timeout: '10m', retries: 0, concurrency: 1, maxFailureRatio: 0 },
    },
  };
  const connectLocal = () => Promise.reject(new Error('not in this test'));
  return { dir, mainHome, mainStore, open: () => openEndpoints({ task, tasks, mainStore, mainHome, connectLocal }) };
}

test('without an inventory the task has one endpoint: the local engine and the main home', () => {
  const s = setup();
  const set = s.open();
  assert.deepEqual(
    set.endpoints.map((e) => [e.name, e.home, e.store === s.mainStore]),
    [[LOCAL_ENDPOINT, s.mainHome, true]],
  );
  assert.equal(set.inventory, false);
  set.close();
  s.mainStore.close();
});

test('inventory endpoints get their own homes, by default under the main home; the main home reuses the main store', () => {
  const s = setup([
    { name: 'a', engine: 'unix:///a.sock' },
    { name: 'b', engine: 'tcp://127.0.0.1:1' },
  ]);
  const set = s.open();
  assert.deepEqual(
    set.endpoints.map((e) => e.home),
    [join(s.mainHome, 'endpoints', 'a'), join(s.mainHome, 'endpoints', 'b')],
  );
  assert.ok(set.endpoints.every((e) => e.store !== s.mainStore));
  assert.equal(set.inventory, true);
  assert.throws(() => set.get('zz'), EndpointUnusableError);
  set.close();
  new TaskStore(s.mainStore).saveInventory(
    {
      apiVersion: 'molt.dev/v1alpha1',
      kind: 'Inventory',
      metadata: { name: 'lab', labels: {} },
      spec: { endpoints: [{ name: 'a', engine: 'unix:///a.sock', home: s.mainHome }] },
    },
    undefined,
  );
  const reused = s.open();
  assert.equal(reused.endpoints[0]?.store, s.mainStore);
  reused.close();
  s.mainStore.close();
});

test('two endpoints sharing a home are refused: their apps would be targeted twice', () => {
  const s = setup([
    { name: 'a', engine: 'unix:///a.sock', home: '/tmp/x' },
    { name: 'b', engine: 'unix:///b.sock', home: '/tmp/x' },
  ]);
  assert.throws(
    () => s.open(),
    (e: unknown) =>
      e instanceof EndpointUnusableError && /endpoint "b": shares its home \/tmp\/x with endpoint "a"/.test(e.message),
  );
  s.mainStore.close();
});

test('an endpoint that does not answer fails when its engine is asked for, and is tried again next time', async () => {
  const s = setup([{ name: 'a', engine: `unix://${join(tmpdir(), 'molt-no-such.sock')}` }]);
  const set = s.open();
  const ep = set.get('a');
  await assert.rejects(ep.engine(), /endpoint "a": .*no such socket/);
  await assert.rejects(ep.engine(), /endpoint "a"/);
  set.close();
  s.mainStore.close();
});

test('a task naming a missing inventory is refused', () => {
  const s = setup();
  const tasks = new TaskStore(s.mainStore);
  const task: UpgradeTaskManifest = {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'UpgradeTask',
    metadata: { name: 't', labels: {} },
    spec: {
      target: { app: 'x' },
      inventory: 'gone',
      toVersion: '1',
      imageTemplate: '{repository}:{version}',
      options: { timeout: 1, retries: 0, concurrency: 1, maxFailureRatio: 0 },
    },
  };
  assert.throws(
    () =>
      openEndpoints({
        task,
        tasks,
        mainStore: s.mainStore,
        mainHome: s.mainHome,
        connectLocal: () => Promise.reject(new Error('x')),
      }),
    InventoryNotFoundError,
  );
  s.mainStore.close();
});
