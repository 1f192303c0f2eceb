import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldDiff } from './settings-diff.ts';
import type { AppSpec } from './model.ts';

const spec = (env: Record<string, string>, ports?: string[]) =>
  ({ env, ...(ports ? { ports } : {}) }) as unknown as AppSpec;

test('an env change names the variables and never their values', () => {
  const line = fieldDiff(
    'env',
    spec({ DB_PASSWORD: 'hunter2', KEEP: 'x', OLD: 'y' }),
    spec({ DB_PASSWORD: 'hunter3', KEEP: 'x', NEW: 'z' }),
  );
  assert.equal(line, 'env: ~DB_PASSWORD, +NEW, -OLD (values not shown)');
  assert.ok(!/hunter|"x"|"y"|"z"/.test(line));
});

test('other fields show both values', () => {
  assert.equal(fieldDiff('ports', spec({}, ['8080:80']), spec({}, ['8081:80'])).startsWith('ports: '), true);
});
