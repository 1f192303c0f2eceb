import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpgradeRefusedError } from './errors.ts';
import {
  checkReleaseChange,
  decideReleaseApp,
  memberManifest,
  rolloutOrder,
  type InstalledReleaseApp,
} from './release.ts';
import {
  releaseAppDocument,
  releaseDocument,
  type ReleaseAppManifest,
  type ReleaseManifest,
} from './release-schema.ts';

const release = (name: string, version: string, upgradable?: boolean, roles = ['a', 'b']): ReleaseManifest =>
  releaseDocument().parse({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'Release',
    metadata: { name },
    spec: {
      package: 'test/kv',
      version,
      ...(upgradable === undefined ? {} : { upgradable }),
      roles: roles.map((r) => ({ name: r, image: `kv:${version}`, volumes: [{ name: 'data', mountPath: '/data' }] })),
    },
  });
const appDoc = (rel: string, a = 3, b = 2, partition = 0, names = ['a', 'b']) => ({
  apiVersion: 'molt.dev/v1alpha1',
  kind: 'App',
  metadata: { name: 'kv' },
  spec: {
    release: rel,
    roles: [
      { name: names[0], members: a },
      { name: names[1], members: b },
    ],
    upgradeStrategy: { partition },
  },
});
const app = (rel: string, a = 3, b = 2, partition = 0): ReleaseAppManifest =>
  releaseAppDocument().parse(appDoc(rel, a, b, partition));
const installed = (over: Partial<InstalledReleaseApp> = {}): InstalledReleaseApp => ({
  manifest: app('kv-1'),
  release: release('kv-1', '1.0.0-1', true),
  updating: false,
  isRollingBack: false,
  membersBehind: 0,
  ...over,
});
const refused = (pattern: RegExp) => (e: unknown) => e instanceof UpgradeRefusedError && pattern.test(e.message);

test('a rollout walks each role from its highest ordinal down to the partition', () => {
  assert.deepEqual(rolloutOrder(3, 0), [2, 1, 0]);
  assert.deepEqual(rolloutOrder(3, 1), [2, 1]);
  assert.deepEqual(rolloutOrder(2, 5), []);
});

test('a new release that is newer, same package, from an upgradable release is a rollout', () => {
  const d = decideReleaseApp(app('kv-2'), installed(), release('kv-2', '2.0.0-1'));
  assert.equal(d.action, 'rollout');
});

test('the validator refuses what seed 003 refuses', () => {
  assert.throws(
    () => decideReleaseApp(app('kv-2', 4), installed(), release('kv-2', '2.0.0-1')),
    refused(/together with other fields/),
  );
  assert.throws(() => decideReleaseApp(app('kv-0'), installed(), release('kv-0', '0.9.0-1')), refused(/not newer/));
  assert.throws(() => decideReleaseApp(app('kv-1b'), installed(), release('kv-1b', '1.0.0-1')), refused(/not newer/));
  assert.throws(
    () =>
      decideReleaseApp(
        app('kv-2'),
        installed({ release: release('kv-1', '1.0.0-1', false) }),
        release('kv-2', '2.0.0-1'),
      ),
    refused(/sealed/),
  );
  assert.throws(
    () => decideReleaseApp(app('kv-2'), installed({ release: release('kv-1', '1.0.0-1') }), release('kv-2', '2.0.0-1')),
    refused(/not marked upgradable/),
  );
  assert.throws(
    () => decideReleaseApp(app('kv-2'), installed(), release('kv-2', '2.0.0-1', true, ['a'])),
    refused(/has no role b/),
  );
});

test('while updating only a rollback to prevRelease or finishing is allowed; never two rollbacks', () => {
  const updating = installed({ manifest: app('kv-2'), updating: true, prevRelease: 'kv-1' });
  assert.equal(decideReleaseApp(app('kv-1'), updating, release('kv-1', '1.0.0-1')).action, 'rollback');
  assert.equal(decideReleaseApp(app('kv-2'), updating, release('kv-2', '2.0.0-1')).action, 'resume');
  assert.throws(() => decideReleaseApp(app('kv-3'), updating, release('kv-3', '3.0.0-1')), refused(/only a rollback/));
  assert.throws(
    () => decideReleaseApp(app('kv-1'), { ...updating, isRollingBack: true }, release('kv-1', '1.0.0-1')),
    refused(/already running/),
  );
});

test('a member count change alone is a scale; members behind a partition are a resume', () => {
  assert.equal(decideReleaseApp(app('kv-1', 4), installed(), release('kv-1', '1.0.0-1')).action, 'scale');
  assert.equal(
    decideReleaseApp(app('kv-1'), installed({ membersBehind: 1 }), release('kv-1', '1.0.0-1')).action,
    'resume',
  );
  assert.equal(decideReleaseApp(app('kv-1'), installed(), release('kv-1', '1.0.0-1')).action, 'none');
});

test('a release in use may only get upgradable set once', () => {
  const absent = release('kv-1', '1.0.0-1');
  checkReleaseChange(absent, release('kv-1', '1.0.0-1', true), ['kv']);
  assert.throws(
    () => checkReleaseChange(release('kv-1', '1.0.0-1', true), release('kv-1', '1.0.0-1', false), ['kv']),
    refused(/can change only while no app runs it/),
  );
  assert.throws(
    () => checkReleaseChange(absent, release('kv-1', '1.0.0-2'), ['kv']),
    refused(/only spec.upgradable may change/),
  );
  checkReleaseChange(release('kv-1', '1.0.0-1', true), release('kv-1', '1.0.0-1', false), []);
});

test('each member runs its role with its own volumes, the shared network and its identity in env', () => {
  const rel = release('kv-1', '1.0.0-1');
  const m = memberManifest(app('kv-1'), rel, rel.spec.roles[1]!, 1);
  assert.equal(m.metadata.name, 'kv-b-1');
  assert.deepEqual(m.spec.volumes, [{ name: 'kv-b-1-data', mountPath: '/data' }]);
  assert.equal(m.spec.version, '1.0.0-1');
  assert.equal(m.spec.env.MOLT_ORDINAL, '1');
  assert.equal(m.metadata.labels['dev.molt.release'], 'kv-1');
});

test('a role named twice is refused at its second place, in a Release and in an App running one', () => {
  const refusal = (parse: () => unknown) => {
    try {
      parse();
    } catch (e) {
      return (e as { issues: { path: PropertyKey[]; message: string }[] }).issues.map((i) => [
        i.path.join('.'),
        i.message,
      ]);
    }
    return undefined;
  };
  assert.deepEqual(
    refusal(() => release('kv-1', '1.0.0-1', undefined, ['a', 'a'])),
    [['spec.roles.1.name', 'role "a" is defined twice']],
  );
  assert.deepEqual(
    refusal(() => releaseAppDocument().parse(appDoc('kv-1', 1, 2, 0, ['a', 'a']))),
    [['spec.roles.1.name', 'role "a" is listed twice']],
  );
});
