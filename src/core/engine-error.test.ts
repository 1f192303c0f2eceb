import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from './errors.ts';

test('EngineError: a 5xx is retried unless the thing is gone; a vanishing interface during network create is a race, retried', () => {
  const cases: [number, string, boolean][] = [
    [500, 'no such container', false],
    [500, 'image not found', false],
    [500, 'route ip+net: no such network interface', true],
    [500, 'connection reset', true],
    [409, 'name in use', false],
  ];
  for (const [status, detail, retryable] of cases)
    assert.equal(new EngineError('create network n', status, detail).retryable, retryable, detail);
});
