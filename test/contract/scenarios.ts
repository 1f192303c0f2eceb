/**
 * The contract suite: one list of scenarios, run against each engine through a small driver
 * (hono's shared router suite is the model) — the runner on a fake ContainerEngine
 * (local.test.ts) and the operator on a fake Kubernetes API (kube.test.ts). Each scenario
 * states what a user sees — installed version, outcome, reason, members, task phase — so both
 * engines must agree on it. Fast: no containers, no cluster (the e2e suite keeps those).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests } from '../../src/core/manifest.ts';
import type { AppManifest } from '../../src/core/model.ts';
import type { ReleaseAppManifest, ReleaseManifest } from '../../src/core/release-schema.ts';
import type { UpgradeTaskManifest } from '../../src/core/task.ts';
import type { FakeImage } from '../../src/testing/fake-engine.ts';

/** What a user sees of an inline app. */
export interface AppView {
  installedVersion?: string;
  image?: string;
  /** The last operation's outcome: Succeeded | RolledBack | Aborted. */
  lastOutcome?: string;
  /** Its failure code when it failed. */
  lastReason?: string;
  /** Content of the file `data/state` in the app's volume (the first member's). */
  data?: string;
}

/** What a user sees of a release app. */
export interface ReleaseAppView {
  release?: string;
  lastOutcome?: string;
  lastReason?: string;
  /** What the last rollout's failure said (it names the failed member). */
  lastMessage?: string;
  /** Member name → the release it runs. */
  members: Record<string, string | undefined>;
}

/** What a user sees of a task. */
export interface TaskView {
  phase: string;
  reason: string;
  targets: Record<string, string>;
}

/** One engine, as the scenarios drive it. */
export interface ContractDriver {
  /** Makes an image known to the engine (its files and how its container starts). */
  image(ref: string, image: FakeImage): void;
  /** Applies a document and waits until the engine settled (done, or failed and back). */
  applyApp(m: AppManifest): Promise<void>;
  rollbackApp(name: string): Promise<void>;
  app(name: string): Promise<AppView>;
  /** Writes `data/state` in the app's volume (the first member's). */
  writeData(app: string, content: string): Promise<void>;
  applyRelease(r: ReleaseManifest): Promise<void>;
  applyReleaseApp(m: ReleaseAppManifest): Promise<void>;
  releaseApp(name: string): Promise<ReleaseAppView>;
  /** Applies the task and runs it to its end. */
  runTask(t: UpgradeTaskManifest): Promise<TaskView>;
}

const PROBE = 'probes: {startup: {exec: [cat, /tmp/ready], periodSeconds: 0.05, failureThreshold: 5}}';

/** An inline app document. */
export function app(name: string, version: string, extra = '', image = `localhost/${name}:${version}`): AppManifest {
  const text = `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: ${name}, labels: {tier: web}}
spec:
  package: contract/${name}
  version: ${version}
  image: ${image}
  volumes: [{name: data, mountPath: /data}]
  network: {name: contract, subnet: 10.91.0.0/24}
  ${PROBE}
  minReadySeconds: 0
  stopTimeoutSeconds: 1
  upgrade: {snapshotVolumes: true${extra}}
`;
  return parseManifests(text, `${name}.yaml`)[0]!.manifest;
}

function release(name: string, version: string, image: string): ReleaseManifest {
  const text = `apiVersion: molt.dev/v1alpha1
kind: Release
metadata: {name: ${name}}
spec:
  package: contract/kv
  version: ${version}
  upgradable: true
  roles:
    - name: db
      image: ${image}
      volumes: [{name: data, mountPath: /data}]
      ${PROBE}
      minReadySeconds: 0
      stopTimeoutSeconds: 1
`;
  return parseManifests(text, `${name}.yaml`, ['Release'])[0]!.manifest as ReleaseManifest;
}

function releaseApp(name: string, rel: string): ReleaseAppManifest {
  const text = `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: ${name}}
spec:
  release: ${rel}
  roles: [{name: db, members: 2}]
  network: {name: contract, subnet: 10.91.0.0/24}
`;
  return parseManifests(text, `${name}.yaml`, ['App'])[0]!.manifest as unknown as ReleaseAppManifest;
}

function task(name: string, toVersion: string, maxFailureRatio: number): UpgradeTaskManifest {
  const text = `apiVersion: molt.dev/v1alpha1
kind: UpgradeTask
metadata: {name: ${name}}
spec:
  target: {selector: {matchLabels: {tier: web}}}
  toVersion: ${toVersion}
  options: {concurrency: 1, maxFailureRatio: ${maxFailureRatio}, timeout: 2m}
`;
  return parseManifests(text, `${name}.yaml`, ['UpgradeTask'])[0]!.manifest as UpgradeTaskManifest;
}

/** Runs every scenario against the driver `make` returns (a fresh engine per scenario). */
export function contractSuite(engine: string, make: () => Promise<ContractDriver & { close(): Promise<void> }>): void {
  const scenario = (name: string, fn: (d: ContractDriver) => Promise<void>) =>
    test(`${engine}: ${name}`, async () => {
      const d = await make();
      try {
        await fn(d);
      } finally {
        await d.close();
      }
    });

  scenario('install: the app runs its version', async (d) => {
    d.image('localhost/notes:1.0.0', {});
    await d.applyApp(app('notes', '1.0.0'));
    assert.deepEqual(pick(await d.app('notes'), 'installedVersion', 'image'), {
      installedVersion: '1.0.0',
      image: 'localhost/notes:1.0.0',
    });
  });

  scenario('upgrade: the new version runs, the data stays', async (d) => {
    d.image('localhost/notes:1.0.0', {});
    d.image('localhost/notes:2.0.0', {});
    await d.applyApp(app('notes', '1.0.0'));
    await d.writeData('notes', 'v1 data');
    await d.applyApp(app('notes', '2.0.0'));
    assert.deepEqual(pick(await d.app('notes'), 'installedVersion', 'image', 'lastOutcome', 'data'), {
      installedVersion: '2.0.0',
      image: 'localhost/notes:2.0.0',
      lastOutcome: 'Succeeded',
      data: 'v1 data',
    });
  });

  scenario(
    'script failure: a failing pre-upgrade script aborts, a failing post-upgrade script rolls back; the old version runs',
    async (d) => {
      d.image('localhost/notes:1.0.0', {});
      d.image('localhost/notes:2.0.0', { files: { '/pre': 'fake:fail', '/post': 'fake:fail' } });
      await d.applyApp(app('notes', '1.0.0'));
      await d.applyApp(app('notes', '2.0.0', ', preUpgrade: /pre'));
      assert.deepEqual(pick(await d.app('notes'), 'installedVersion', 'lastOutcome', 'lastReason'), {
        installedVersion: '1.0.0',
        lastOutcome: 'Aborted',
        lastReason: 'PreUpgradeFailed',
      });
      await d.applyApp(app('notes', '2.0.1', ', postUpgrade: /post', 'localhost/notes:2.0.0'));
      assert.deepEqual(pick(await d.app('notes'), 'installedVersion', 'image', 'lastOutcome', 'lastReason'), {
        installedVersion: '1.0.0',
        image: 'localhost/notes:1.0.0',
        lastOutcome: 'RolledBack',
        lastReason: 'PostUpgradeFailed',
      });
    },
  );

  scenario('rollback: back to the version installed before, the data kept', async (d) => {
    d.image('localhost/notes:1.0.0', {});
    d.image('localhost/notes:2.0.0', {});
    await d.applyApp(app('notes', '1.0.0'));
    await d.applyApp(app('notes', '2.0.0'));
    await d.writeData('notes', 'v2 data');
    await d.rollbackApp('notes');
    assert.deepEqual(pick(await d.app('notes'), 'installedVersion', 'image', 'data'), {
      installedVersion: '1.0.0',
      image: 'localhost/notes:1.0.0',
      data: 'v2 data',
    });
  });

  scenario(
    'release rollout with a failing member: the touched members go back, the app stays on the old release',
    async (d) => {
      d.image('localhost/kv:1', {});
      d.image('localhost/kv:2', { onStart: 'exit' });
      await d.applyRelease(release('kv-1', '1.0.0', 'localhost/kv:1'));
      await d.applyRelease(release('kv-2', '2.0.0', 'localhost/kv:2'));
      await d.applyReleaseApp(releaseApp('kv', 'kv-1'));
      const installed = await d.releaseApp('kv');
      assert.deepEqual([installed.release, installed.members], ['kv-1', { 'kv-db-0': 'kv-1', 'kv-db-1': 'kv-1' }]);
      await d.applyReleaseApp(releaseApp('kv', 'kv-2'));
      const after = await d.releaseApp('kv');
      assert.deepEqual(
        [after.release, after.lastOutcome, after.members],
        ['kv-1', 'RolledBack', { 'kv-db-0': 'kv-1', 'kv-db-1': 'kv-1' }],
      );
      assert.ok(
        after.lastReason === 'ContainerExited' ||
          after.lastReason === 'ContainerCrashLooping' ||
          after.lastReason === 'ContainerRestarted',
        `a failure code of a container that does not come up: ${after.lastReason}`,
      );
      // core/release-rollout.ts, which both engines follow: the highest ordinal goes first, so it is the one that failed.
      assert.match(after.lastMessage ?? '', /kv-db-1/, `the failed member is kv-db-1: ${after.lastMessage}`);
      assert.doesNotMatch(after.lastMessage ?? '', /kv-db-0/);
    },
  );

  scenario(
    'task with maxFailureRatio 0: the first failed target stops the task; the rest is never touched',
    async (d) => {
      for (const n of ['web-a', 'web-b', 'web-c']) {
        d.image(`localhost/${n}:1.0.0`, {});
        d.image(`localhost/${n}:2.0.0`, n === 'web-a' ? { onStart: 'exit' } : {});
        await d.applyApp(app(n, '1.0.0'));
      }
      const t = await d.runTask(task('to-2', '2.0.0', 0));
      assert.deepEqual(t, {
        phase: 'Error',
        reason: 'MaxFailureRatioExceeded',
        targets: { 'web-a': 'RolledBack', 'web-b': 'NotStarted', 'web-c': 'NotStarted' },
      });
      assert.equal((await d.app('web-a')).installedVersion, '1.0.0');
      assert.equal((await d.app('web-b')).installedVersion, '1.0.0');
    },
  );
}

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;
}
