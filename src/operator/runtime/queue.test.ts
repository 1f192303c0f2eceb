import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from './queue.ts';

test('a key added twice while waiting is handed out once', async () => {
  const q = new WorkQueue();
  q.add('a');
  q.add('a');
  q.add('b');
  assert.equal(q.length, 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
});

test('a key added while a worker holds it comes back only after done', async () => {
  const q = new WorkQueue();
  q.add('a');
  const k = await q.get();
  q.add('a');
  assert.equal(q.length, 0, 'not handed to a second worker');
  q.done(k ?? '');
  assert.equal(await q.get(), 'a');
});

test('failures back off exponentially per key and forget resets them', () => {
  const q = new WorkQueue({ baseMs: 100, maxMs: 1000 });
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => q.addRateLimited('a')),
    [100, 200, 400, 800, 1000],
  );
  assert.equal(q.addRateLimited('b'), 100);
  q.forget('a');
  assert.equal(q.addRateLimited('a'), 100);
  q.shutDown();
});

test('addAfter keeps the earlier of two timers and shutDown releases waiting workers', async () => {
  const q = new WorkQueue();
  q.addAfter('a', 20);
  q.addAfter('a', 5000);
  const t0 = Date.now();
  assert.equal(await q.get(), 'a');
  assert.ok(Date.now() - t0 < 2000);
  const pending = q.get();
  q.shutDown();
  assert.equal(await pending, undefined);
});
