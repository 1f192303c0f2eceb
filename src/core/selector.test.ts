import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSelector, isEmptySelector, matchesSelector, type LabelSelector } from './selector.ts';

const sel = (s: Partial<LabelSelector>): LabelSelector => ({ matchLabels: {}, matchExpressions: [], ...s });

test('matchLabels needs every key with exactly that value', () => {
  const s = sel({ matchLabels: { tier: 'db', env: 'prod' } });
  assert.equal(matchesSelector({ tier: 'db', env: 'prod', extra: 'x' }, s), true);
  assert.equal(matchesSelector({ tier: 'db', env: 'stage' }, s), false);
  assert.equal(matchesSelector({ tier: 'db' }, s), false);
});

test('In and NotIn follow Kubernetes: NotIn also matches apps without the key', () => {
  const inProd = sel({ matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'stage'] }] });
  assert.equal(matchesSelector({ env: 'stage' }, inProd), true);
  assert.equal(matchesSelector({ env: 'dev' }, inProd), false);
  assert.equal(matchesSelector({}, inProd), false);
  const notLegacy = sel({ matchExpressions: [{ key: 'gen', operator: 'NotIn', values: ['legacy'] }] });
  assert.equal(matchesSelector({}, notLegacy), true);
  assert.equal(matchesSelector({ gen: 'legacy' }, notLegacy), false);
});

test('Exists and DoesNotExist look only at the key, and all requirements must hold', () => {
  const s = sel({
    matchLabels: { tier: 'db' },
    matchExpressions: [
      { key: 'canary', operator: 'Exists', values: [] },
      { key: 'frozen', operator: 'DoesNotExist', values: [] },
    ],
  });
  assert.equal(matchesSelector({ tier: 'db', canary: '' }, s), true);
  assert.equal(matchesSelector({ tier: 'db', canary: 'yes', frozen: 'true' }, s), false);
  assert.equal(matchesSelector({ tier: 'web', canary: 'yes' }, s), false);
});

test('a selector prints in kubectl form and an empty one is recognised', () => {
  const s = sel({
    matchLabels: { tier: 'db' },
    matchExpressions: [
      { key: 'env', operator: 'In', values: ['a', 'b'] },
      { key: 'x', operator: 'NotIn', values: ['y'] },
      { key: 'c', operator: 'Exists', values: [] },
      { key: 'f', operator: 'DoesNotExist', values: [] },
    ],
  });
  assert.equal(formatSelector(s), 'tier=db,env in (a,b),x notin (y),c,!f');
  assert.equal(isEmptySelector(sel({})), true);
  assert.equal(isEmptySelector(s), false);
});
