import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from './errors.ts';
import { parseManifests } from './manifest.ts';
import {
  decideNonInlineTarget,
  decideTarget,
  deriveImage,
  durationSeconds,
  imageRepository,
  selectApps,
  type UpgradeTaskSpec,
} from './task.ts';
import { appManifest } from '../testing/fixtures.ts';

const spec = (s: Partial<UpgradeTaskSpec> = {}): UpgradeTaskSpec => ({
  target: { selector: { matchLabels: { tier: 'db' }, matchExpressions: [] } },
  toVersion: '1.3.0-1',
  imageTemplate: '{repository}:{version}',
  options: { timeout: '10m', retries: 0, concurrency: 1, maxFailureRatio: 0 },
  ...s,
});
const installed = appManifest({ version: '1.2.3-4', image: 'registry.local:5000/team/notes:1.2.3-4' });

test('the default image rule replaces the tag (or digest) and keeps a registry port', () => {
  assert.equal(imageRepository('registry.local:5000/team/notes:1.2.3-4'), 'registry.local:5000/team/notes');
  assert.equal(imageRepository('registry.local:5000/team/notes'), 'registry.local:5000/team/notes');
  assert.equal(imageRepository('notes@sha256:abcd'), 'notes');
  assert.equal(
    deriveImage('localhost/notes:1.0.0-1', '{repository}:{version}', '1.1.0-1', 'n1'),
    'localhost/notes:1.1.0-1',
  );
  assert.equal(
    deriveImage('localhost/notes:1.0.0-1', 'mirror.local/{app}:v{version}', '1.1.0-1', 'n1'),
    'mirror.local/n1:v1.1.0-1',
  );
});

test('a target already at the new version is skipped, before any guard', () => {
  const at = appManifest({ version: '1.3.0-1' });
  assert.deepEqual(decideTarget(spec({ fromVersion: '1.0.0-1' }), 'notes', at).action, 'skip');
});

test('the fromVersion guard refuses a target at any other version, naming both', () => {
  const d = decideTarget(spec({ fromVersion: '1.0.0-1' }), 'notes', installed);
  assert.equal(d.action, 'refuse');
  assert.equal(d.action === 'refuse' && d.reason, 'FromVersionMismatch');
  assert.match(d.action === 'refuse' ? d.message : '', /is at 1\.2\.3-4, not at spec\.fromVersion 1\.0\.0-1/);
  assert.equal(decideTarget(spec({ fromVersion: '1.2.3-4' }), 'notes', installed).action, 'upgrade');
});

test('an upgrade changes only the version and the derived image of the installed manifest', () => {
  const d = decideTarget(spec(), 'notes', installed);
  assert.ok(d.action === 'upgrade');
  assert.equal(d.manifest.spec.version, '1.3.0-1');
  assert.equal(d.manifest.spec.image, 'registry.local:5000/team/notes:1.3.0-1');
  assert.deepEqual(
    { ...d.manifest.spec, version: installed.spec.version, image: installed.spec.image },
    installed.spec,
  );
  assert.deepEqual(d.manifest.metadata, installed.metadata);
});

test('the app-level rules still apply: a lower version is refused with their code', () => {
  const d = decideTarget(spec({ toVersion: '1.0.0-1' }), 'notes', installed);
  assert.equal(d.action === 'refuse' && d.reason, 'DowngradeRefused');
});

test('roles, members and releases are refused clearly for apps without them, as is a never-installed app', () => {
  const role = decideTarget(spec({ target: { app: 'notes', role: 'primary' } }), 'notes', installed);
  assert.equal(role.action === 'refuse' && role.reason, 'RolesNotSupported');
  const member = decideTarget(spec({ target: { app: 'notes', member: 'db-0' } }), 'notes', installed);
  assert.match(member.action === 'refuse' ? member.message : '', /member "db-0"/);
  const release = decideTarget(spec({ toVersion: undefined, toRelease: 'spring' }), 'notes', installed);
  assert.equal(release.action === 'refuse' && release.reason, 'ReleaseNotSupported');
  assert.match(release.action === 'refuse' ? release.message : '', /not yet supported for inline apps/);
  assert.equal(decideTarget(spec(), 'notes', undefined).action === 'refuse', true);
});

test('selection: a named app even when never installed; a selector only over known labels, never members; sorted', () => {
  const apps = [
    { name: 'b', labels: { tier: 'db' }, kind: 'app' as const },
    { name: 'a', labels: { tier: 'db' }, kind: 'app' as const },
    { name: 'c', labels: { tier: 'web' }, kind: 'app' as const },
    { name: 'd', labels: undefined, kind: 'app' as const },
    { name: 'r', labels: { tier: 'db' }, kind: 'release' as const },
    { name: 'r-db-0', labels: { tier: 'db' }, kind: 'member' as const },
  ];
  assert.deepEqual(selectApps({ selector: { matchLabels: { tier: 'db' }, matchExpressions: [] } }, apps), [
    'a',
    'b',
    'r',
  ]);
  assert.deepEqual(selectApps({ app: 'r-db-0' }, apps), ['r-db-0']);
  assert.deepEqual(selectApps({ app: 'd' }, apps), ['d']);
  assert.deepEqual(selectApps({ app: 'zz' }, apps), []);
});

test('members and release apps are refused with what to do instead; a release app already on toRelease is skipped', () => {
  const member = decideNonInlineTarget(spec(), 'r-db-0', { kind: 'member', owner: 'r' });
  assert.deepEqual(member.action === 'refuse' && [member.reason, /target "r" instead/.test(member.message)], [
    'MemberOfReleaseApp',
    true,
  ]);
  const byVersion = decideNonInlineTarget(spec(), 'r', { kind: 'release', release: 'rel-1' });
  assert.equal(byVersion.action === 'refuse' && byVersion.reason, 'ToReleaseRequired');
  assert.equal(
    decideNonInlineTarget(spec({ toVersion: undefined, toRelease: 'rel-1' }), 'r', {
      kind: 'release',
      release: 'rel-1',
    }).action,
    'skip',
  );
  const rollout = decideNonInlineTarget(spec({ toVersion: undefined, toRelease: 'rel-2' }), 'r', {
    kind: 'release',
    release: 'rel-1',
  });
  assert.equal(rollout.action === 'refuse' && rollout.reason, 'ReleaseRolloutNotSupported');
});

test('durations are seconds or a number with s, m or h', () => {
  assert.equal(durationSeconds('90s'), 90);
  assert.equal(durationSeconds('10m'), 600);
  assert.equal(durationSeconds(5), 5);
  assert.equal(durationSeconds('0'), undefined);
  assert.equal(durationSeconds('ten'), undefined);
});

const doc = (spec: string) => `apiVersion: molt.dev/v1alpha1\nkind: UpgradeTask\nmetadata:\n  name: t1\nspec:\n${spec}`;

test('a task document gets its defaults: image rule, timeout, retries, concurrency 1, maxFailureRatio 0', () => {
  const [d] = parseManifests(doc('  target: {app: notes}\n  toVersion: 1.1.0-1\n'), 't.yaml', ['UpgradeTask']);
  assert.deepEqual(d?.manifest.spec, {
    target: { app: 'notes' },
    toVersion: '1.1.0-1',
    imageTemplate: '{repository}:{version}',
    options: { timeout: '10m', retries: 0, concurrency: 1, maxFailureRatio: 0 },
  });
});

test('invalid task documents name the line and field: both targets, empty selector, both versions, bad template, bad ratio', () => {
  const problems = (text: string) => {
    try {
      parseManifests(text, 't.yaml', ['UpgradeTask']);
      return '';
    } catch (e) {
      assert.ok(e instanceof InvalidInputError);
      return e.message;
    }
  };
  assert.match(
    problems(doc('  target: {app: a, selector: {matchLabels: {x: y}}}\n  toVersion: 1.1.0-1\n')),
    /t\.yaml:6:\d+: spec\.target: set exactly one of app or selector/,
  );
  assert.match(
    problems(doc('  target: {selector: {}}\n  toVersion: 1.1.0-1\n')),
    /empty selector would select every app/,
  );
  assert.match(
    problems(doc('  target: {app: a}\n  toVersion: 1.1.0-1\n  toRelease: r1\n')),
    /set exactly one of toVersion or toRelease/,
  );
  assert.match(
    problems(doc('  target: {app: a}\n  toVersion: 1.1.0-1\n  imageTemplate: "x/{name}:{version}"\n')),
    /spec\.imageTemplate: unknown placeholder/,
  );
  assert.match(
    problems(doc('  target: {app: a}\n  toVersion: 1.1.0-1\n  options: {maxFailureRatio: 2, concurrency: 0}\n')),
    /options\.maxFailureRatio: Too big[\s\S]*options\.concurrency: Too small/,
  );
  assert.match(
    problems(doc('  target: {selector: {matchExpressions: [{key: env, operator: In}]}}\n  toVersion: 1.1.0-1\n')),
    /In needs at least one value/,
  );
});

test('a task given to `molt apply`, or an app given to `molt task apply`, is refused with the right command', () => {
  assert.throws(
    () => parseManifests(doc('  target: {app: a}\n  toVersion: 1.1.0-1\n'), 't.yaml'),
    /kind UpgradeTask is not taken by this command; apply it with `molt task apply -f`/,
  );
  const app =
    'apiVersion: molt.dev/v1alpha1\nkind: App\nmetadata: {name: a}\nspec: {package: x/a, version: 1.0.0, image: a:1}\n';
  assert.throws(
    () => parseManifests(app, 'a.yaml', ['UpgradeTask', 'Inventory']),
    /kind App is not taken by this command; apply it with `molt apply -f`/,
  );
});

test('an inventory needs unique endpoint names, tcp for tls, and both cert and key', () => {
  const inv = (eps: string) =>
    `apiVersion: molt.dev/v1alpha1\nkind: Inventory\nmetadata: {name: lab}\nspec:\n  endpoints:\n${eps}`;
  const [ok] = parseManifests(
    inv(
      '  - {name: a, engine: "unix:///run/a.sock"}\n  - {name: b, engine: "tcp://10.0.0.2:2376", tls: {ca: ca.pem, cert: c.pem, key: k.pem}}\n',
    ),
    'i.yaml',
    ['Inventory'],
  );
  assert.equal(ok?.manifest.spec.endpoints.length, 2);
  assert.throws(
    () =>
      parseManifests(inv('  - {name: a, engine: "unix:///a"}\n  - {name: a, engine: "unix:///b"}\n'), 'i.yaml', [
        'Inventory',
      ]),
    /duplicates endpoints\[0\]/,
  );
  assert.throws(
    () => parseManifests(inv('  - {name: a, engine: "unix:///a", tls: {ca: x}}\n'), 'i.yaml', ['Inventory']),
    /tls applies to tcp:\/\/ engines only/,
  );
  assert.throws(
    () => parseManifests(inv('  - {name: a, engine: "tcp://h:1", tls: {cert: x}}\n'), 'i.yaml', ['Inventory']),
    /set both cert and key/,
  );
});
