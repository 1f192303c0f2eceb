import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
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

test('cores are ordered like semver orders them, at any length', async () => {
  const pairs: [string, string][] = [
    ['1.2.3', '1.2.3'],
    ['1.2.3', '1.2.4'],
    ['1.10.0', '1.9.9'],
    ['0.0.1', '0.1.0'],
    ['9.0.0', '10.0.0'],
    ['3.0.0-1', '2.99.99-7'],
  ];
  const semverCompare = (await import('semver/functions/compare.js')).default;
  assert.deepEqual(
    pairs.map(([a, b]) => Math.sign(compareVersionStrings(a, b))),
    pairs.map(([a, b]) => semverCompare(a.replace(/-\d+$/, ''), b.replace(/-\d+$/, ''))),
  );
  // Beyond 2^53, where semver itself refuses: still ordered by value.
  assert.ok(compareVersionStrings('99999999999999999999.0.0', '99999999999999999998.0.0') > 0);
});

test('semver is loaded only when a pre-release is met', () => {
  // A process of its own: other tests here have met pre-releases.
  const script = `
    import { createRequire } from 'node:module';
    import { compareVersionStrings } from ${JSON.stringify(new URL('./version.ts', import.meta.url).href)};
    const cache = createRequire(import.meta.url).cache;
    const loaded = () => Object.keys(cache).some((k) => k.includes('/node_modules/semver/'));
    const seen = [];
    compareVersionStrings('1.2.3-4', '1.10.0');
    seen.push(loaded());
    compareVersionStrings('2.0.0-rc.2', '2.0.0-rc.10');
    seen.push(loaded());
    console.log(JSON.stringify(seen));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), [false, true]);
});
