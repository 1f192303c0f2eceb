import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersionStrings, parseVersion } from './version.ts';

test('dogu release suffix ranks above the bare version and orders numerically', () => {
  assert.ok(compareVersionStrings('1.2.3-5', '1.2.3-4') > 0);
  assert.ok(compareVersionStrings('1.2.3-10', '1.2.3-9') > 0);
  assert.ok(compareVersionStrings('1.2.3-1', '1.2.3') > 0);
  assert.equal(compareVersionStrings('1.2.3-4', '1.2.3-4'), 0);
});

test('core version decides before any suffix', () => {
  assert.ok(compareVersionStrings('1.2.4-1', '1.2.3-99') > 0);
  assert.ok(compareVersionStrings('2.0.0', '10.0.0') < 0);
});

test('pre-releases rank below the release they lead to', () => {
  assert.ok(compareVersionStrings('2.0.0-rc.1', '2.0.0') < 0);
  assert.ok(compareVersionStrings('2.0.0-rc.2', '2.0.0-rc.1') > 0);
  assert.ok(compareVersionStrings('2.0.0-rc.1', '1.9.9-7') > 0);
});

test('versions with shell metacharacters, build metadata or leading zeros are rejected', () => {
  for (const bad of [
    '1.0.0-1;touch /tmp/x',
    '1.0.0-$(id)',
    '1.0.0+build',
    '01.0.0',
    '1.0',
    'v1.0.0',
    '1.0.0-01',
    '1.0.0 ',
    '1.0.0-a b',
    '',
  ]) {
    assert.equal(parseVersion(bad), undefined, bad);
  }
});

test('parsed versions expose release or prerelease', () => {
  assert.deepEqual(parseVersion('1.2.3-4'), { raw: '1.2.3-4', core: '1.2.3', release: 4 });
  assert.deepEqual(parseVersion('1.2.3-beta.2'), { raw: '1.2.3-beta.2', core: '1.2.3', prerelease: 'beta.2' });
});
