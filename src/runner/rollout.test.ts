/**
 * The local rollout loop (observe → core decides → journal → act → record) on a fake engine:
 * the order members change in, maxUnavailable, a pause asked for mid-rollout, a failing
 * member hook and the revert of exactly the touched members. The real-engine paths are
 * test/e2e/release.test.ts and the kill matrix test/e2e/recovery-release.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifests } from '../core/manifest.ts';
import type { ReleaseAppManifest, ReleaseManifest } from '../core/release-schema.ts';
import { Store } from '../store/store.ts';
import { FakeEngine } from '../testing/fake-engine.ts';
import { applyRelease, applyReleaseApp, pauseReleaseApp } from './release-service.ts';
import type { RunDeps } from './run-operation.ts';

const PROBE = 'probes: {startup: {exec: [cat, /tmp/ready], periodSeconds: 0.05, failureThreshold: 5}}';

function release(name: string, version: string, image: string): ReleaseManifest {
  const text = `apiVersion: molt.dev/v1alpha1
kind: Release
metadata: {name: ${name}}
spec:
  package: unit/kv
  version: ${version}
  upgradable: true
  roles:
    - name: db
      image: ${image}
      lifecycle: /hook
      volumes: [{name: data, mountPath: /data}]
      ${PROBE}
      minReadySeconds: 0
      stopTimeoutSeconds: 1
`;
  return parseManifests(text, `${name}.yaml`, ['Release'])[0]!.manifest as ReleaseManifest;
}

function releaseApp(rel: string, maxUnavailable = 1): ReleaseAppManifest {
  const text = `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: kv}
spec:
  release: ${rel}
  roles: [{name: db, members: 3}]
  network: {name: unit, subnet: 10.92.0.0/24}
  upgradeStrategy: {maxUnavailable: ${maxUnavailable}}
`;
  return parseManifests(text, 'kv.yaml', ['App'])[0]!.manifest as unknown as ReleaseAppManifest;
}

interface World {
  deps: RunDeps;
  /** Every hook call, as its flag. */
  hooks: string[];
  /** Called on each hook call with its flag and how many calls of that flag came before; a string fails it. */
  onHook: (flag: string, n: number) => string | undefined;
  events(): { event: string; member?: string }[];
  close(): void;
}

async function world(maxUnavailable = 1): Promise<World> {
  const home = mkdtempSync(join(tmpdir(), 'molt-rollout-'));
  const engine = new FakeEngine(join(home, 'engine'));
  const store = Store.open(join(home, 'molt'));
  const deps: RunDeps = {
    engine,
    store,
    home: join(home, 'molt'),
    signal: new AbortController().signal,
    log: () => {},
  };
  const w: World = {
    deps,
    hooks: [],
    onHook: () => undefined,
    events: () => store.releases.listRollouts('kv').at(-1)?.events ?? [],
    close: () => {
      store.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
  engine.addProgram('hook', ({ args }) => {
    const flag = args[0] ?? '';
    const failure = w.onHook(flag, w.hooks.filter((f) => f === flag).length);
    w.hooks.push(flag);
    return failure ? { exitCode: 1, stdout: '', stderr: `${failure}\n` } : { exitCode: 0, stdout: '', stderr: '' };
  });
  for (const v of ['1', '2']) engine.addImage(`localhost/kv:${v}`, { files: { '/hook': 'fake:hook' } });
  applyRelease(deps, release('kv-1', '1.0.0', 'localhost/kv:1'));
  applyRelease(deps, release('kv-2', '2.0.0', 'localhost/kv:2'));
  const installed = await applyReleaseApp(deps, releaseApp('kv-1', maxUnavailable));
  assert.equal(installed.outcome, 'Succeeded');
  w.hooks.length = 0;
  return w;
}

const named = (events: { event: string; member?: string }[], event: string) =>
  events.filter((e) => e.event === event).map((e) => e.member);

test('upgrade: members from the highest ordinal down, each hooked before the next starts; role and cluster hooks last', async () => {
  const w = await world();
  try {
    const result = await applyReleaseApp(w.deps, releaseApp('kv-2'));
    assert.equal(result.outcome, 'Succeeded');
    const events = w.events();
    assert.deepEqual(named(events, 'member-started'), ['kv-db-2', 'kv-db-1', 'kv-db-0']);
    const order = events
      .filter((e) => /^member-(started|upgraded)$/.test(e.event))
      .map((e) => `${e.event} ${e.member}`);
    assert.deepEqual(order, [
      'member-started kv-db-2',
      'member-upgraded kv-db-2',
      'member-started kv-db-1',
      'member-upgraded kv-db-1',
      'member-started kv-db-0',
      'member-upgraded kv-db-0',
    ]);
    assert.deepEqual(w.hooks, [
      ...Array(3).fill('--pod_upgraded'),
      ...Array(3).fill('--role_upgraded'),
      ...Array(3).fill('--cluster_upgraded'),
    ]);
    const status = w.deps.store.releases.getApp('kv')!.status;
    assert.equal(status.release, 'kv-2');
    assert.deepEqual(
      status.roles[0]!.members.map((m) => [m.name, m.upgradeStatus, m.version]),
      [
        ['kv-db-0', 'upgraded', '2.0.0'],
        ['kv-db-1', 'upgraded', '2.0.0'],
        ['kv-db-2', 'upgraded', '2.0.0'],
      ],
    );
  } finally {
    w.close();
  }
});

test('maxUnavailable 2: the two highest members change at once, the last one only after one of them is done', async () => {
  const w = await world(2);
  try {
    const result = await applyReleaseApp(w.deps, releaseApp('kv-2', 2));
    assert.equal(result.outcome, 'Succeeded');
    const order = w
      .events()
      .filter((e) => /^member-(started|upgraded)$/.test(e.event))
      .map((e) => `${e.event} ${e.member}`);
    assert.deepEqual(order.slice(0, 2), ['member-started kv-db-2', 'member-started kv-db-1']);
    const firstDone = Math.min(order.indexOf('member-upgraded kv-db-2'), order.indexOf('member-upgraded kv-db-1'));
    assert.ok(order.indexOf('member-started kv-db-0') > firstDone, order.join('\n'));
  } finally {
    w.close();
  }
});

test('a pause asked for mid-rollout starts no further member; applying again finishes the rest only', async () => {
  const w = await world();
  try {
    w.onHook = (flag, n) => {
      if (flag === '--pod_upgraded' && n === 0) pauseReleaseApp(w.deps, 'kv', true);
      return undefined;
    };
    const paused = await applyReleaseApp(w.deps, releaseApp('kv-2'));
    assert.equal(paused.outcome, 'Paused');
    assert.deepEqual(named(w.events(), 'member-started'), ['kv-db-2']);
    assert.ok(!w.hooks.includes('--role_upgraded'), 'a paused role is not finished');
    const resumed = await applyReleaseApp(w.deps, releaseApp('kv-2'));
    assert.equal(resumed.outcome, 'Succeeded');
    assert.deepEqual(named(w.events(), 'member-started'), ['kv-db-1', 'kv-db-0']);
  } finally {
    w.close();
  }
});

test('a member whose hook fails: the rollout goes back, exactly the touched members, highest first', async () => {
  const w = await world();
  try {
    w.onHook = (flag, n) => (flag === '--pod_upgraded' && n === 1 ? 'the hook failed on purpose' : undefined);
    const result = await applyReleaseApp(w.deps, releaseApp('kv-2'));
    assert.equal(result.outcome, 'RolledBack');
    assert.equal(result.error?.code, 'HookFailed');
    const events = w.events();
    assert.deepEqual(named(events, 'member-failed'), ['kv-db-1']);
    assert.deepEqual(named(events, 'member-reverted'), ['kv-db-2', 'kv-db-1']);
    assert.ok(!named(events, 'member-started').includes('kv-db-0'), 'kv-db-0 was never touched');
    const status = w.deps.store.releases.getApp('kv')!.status;
    assert.equal(status.release, 'kv-1');
    assert.deepEqual(
      status.roles[0]!.members.map((m) => m.version),
      ['1.0.0', '1.0.0', '1.0.0'],
    );
    assert.deepEqual(w.hooks, [
      '--pod_upgraded',
      '--pod_upgraded',
      '--pod_reverted',
      '--pod_reverted',
      ...Array(3).fill('--role_reverted'),
      ...Array(3).fill('--cluster_reverted'),
    ]);
  } finally {
    w.close();
  }
});
