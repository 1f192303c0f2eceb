/**
 * UpgradeTasks over a fleet on real Podman, through the CLI: 20 labelled apps upgraded with
 * concurrency 4 (one Completed entry per step per app), and a fleet where 5 of 20 new images
 * are broken and maxFailureRatio 0.2 stops the task — failed apps rolled back, untouched
 * apps still on the old version, the report saying which is which. Plus the task object's
 * life: apply, unchanged, immutable once started, get/list/describe, guards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, stringify } from 'yaml';
import { startPodman, type PodmanHarness } from './harness.ts';
import { buildApp, molt, moltEnv, writeManifest, type MoltEnv } from './molt-cli.ts';
import { fleet, getTask, historySteps, installFleet, taskDoc, type FleetApp } from './fleet-kit.ts';
import { kvImage, kvRelease } from './kv-app.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const GOOD = 'localhost/e2e-fleet';
const BAD = 'localhost/e2e-fleet-bad';
let one: FleetApp[];
let two: FleetApp[];
const badIndex = new Set([1, 3, 5, 7, 9]);

before(async () => {
  h = await startPodman();
  m = moltEnv(h);
  net = h.name('net');
  subnet = h.freeSubnet();
  await Promise.all([
    buildApp(h, GOOD, '1.0.0-1'),
    buildApp(h, GOOD, '1.1.0-1'),
    buildApp(h, BAD, '1.0.0-1'),
    buildApp(h, BAD, '1.1.0-1', { EXIT_AT_START: 'broken release' }),
  ]);
  one = fleet('one', 20, subnet, () => GOOD, '1.0.0-1', 20);
  two = fleet('two', 20, subnet, (i) => (badIndex.has(i) ? BAD : GOOD), '1.0.0-1', 60);
  await installFleet(m, one, { version: '1.0.0-1', network: net, subnet, labels: { fleet: 'one', tier: 'db' } });
  await installFleet(m, two, { version: '1.0.0-1', network: net, subnet, labels: { fleet: 'two', tier: 'db' } });
});
after(async () => h?.stop());

const applyTask = async (name: string, spec: Record<string, unknown>) => {
  const r = await molt(m, ['task', 'apply', '-f', writeManifest(m, `${name}-${Date.now()}.yaml`, taskDoc(name, spec))]);
  assert.equal(r.code, 0, r.stderr);
  return r;
};
const versionOf = async (app: string) => (await h.engine.inspectContainer(app))?.labels['dev.molt.version'];

describe('a task over 20 apps selected by label, concurrency 4', () => {
  test('succeeds, upgrading every app, with one Completed entry per step per app', async () => {
    await applyTask('up-one', {
      target: { selector: { matchLabels: { fleet: 'one' } } },
      fromVersion: '1.0.0-1',
      toVersion: '1.1.0-1',
      options: { concurrency: 4 },
    });
    const r = await molt(m, ['task', 'run', 'up-one']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\[20\/20\] one-\d\d Upgraded/);
    assert.match(r.stderr, /done \d+, failed 0, running \d, pending \d+/, 'live counts are printed');
    assert.equal(r.stdout.trim().split('\n').length, 21, 'final table: header + 20 rows');
    const t = await getTask(m, 'up-one');
    assert.equal(t.status.phase, 'Success');
    assert.ok(t.status.startTime && t.status.completedTime && t.status.startTime <= t.status.completedTime);
    assert.deepEqual(t.status.counts, { total: 20, done: 20, failed: 0, running: 0, pending: 0, notStarted: 0 });
    for (const app of one) {
      const target = t.status.targets.find((x) => x.target === app.name);
      assert.equal(target?.phase, 'Upgraded', app.name);
      assert.equal(await versionOf(app.name), '1.1.0-1');
      const ops = await historySteps(m, app.name);
      const upgrade = ops.find((o) => o.id === target?.operation);
      assert.equal(upgrade?.outcome, 'Succeeded');
      const entries = t.status.upgradeDetailedStatuses.filter((e) => e.target === app.name);
      assert.deepEqual(
        entries.map((e) => e.step),
        ['Precheck', ...(upgrade?.steps ?? [])],
        `${app.name}: one entry per step`,
      );
      for (const e of entries) {
        assert.equal(e.phase, 'Completed', `${app.name} ${e.step}`);
        assert.ok(
          e.startTime <= e.lastUpdatedAt && e.message !== '',
          `${app.name} ${e.step} has timestamps and a message`,
        );
      }
    }
    assert.ok(
      maxOverlap(t.status.targets) >= 2 && maxOverlap(t.status.targets) <= 4,
      `between 2 and 4 targets ran at once (${maxOverlap(t.status.targets)})`,
    );
  });

  test('running it again does nothing, and a changed spec is refused once it has run', async () => {
    const again = await molt(m, ['task', 'run', 'up-one']);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /already finished: Success/);
    const changed = await molt(m, [
      'task',
      'apply',
      '-f',
      writeManifest(
        m,
        'up-one-changed.yaml',
        taskDoc('up-one', { target: { selector: { matchLabels: { fleet: 'one' } } }, toVersion: '1.2.0-1' }),
      ),
    ]);
    assert.equal(changed.code, 1);
    assert.match(changed.stderr, /error\[TaskImmutable\]: task "up-one" is Success/);
    const same = await applyTask('up-one', {
      target: { selector: { matchLabels: { fleet: 'one' } } },
      fromVersion: '1.0.0-1',
      toVersion: '1.1.0-1',
      options: { concurrency: 4 },
    });
    assert.match(same.stdout, /upgradetask\/up-one unchanged/);
  });
});

describe('a task that passes maxFailureRatio', () => {
  test('stops with Error: broken apps rolled back, untouched apps on the old version, the report says which', async () => {
    const before = new Map(
      await Promise.all(two.map(async (a) => [a.name, (await h.engine.inspectContainer(a.name))?.id] as const)),
    );
    await applyTask('up-two', {
      target: { selector: { matchLabels: { fleet: 'two' } } },
      toVersion: '1.1.0-1',
      options: { concurrency: 4, maxFailureRatio: 0.2 },
    });
    const r = await molt(m, ['task', 'run', 'up-two', '-o', 'json']);
    assert.equal(r.code, 1, r.stderr);
    const t = JSON.parse(r.stdout) as Awaited<ReturnType<typeof getTask>>;
    assert.equal(t.status.phase, 'Error');
    assert.equal(t.status.reason, 'MaxFailureRatioExceeded');
    assert.match(t.status.message ?? '', /5 of 20 targets failed \(25%\)/);
    const byPhase = (p: string) => t.status.targets.filter((x) => x.phase === p).map((x) => x.app);
    assert.deepEqual(
      byPhase('RolledBack').sort(),
      two.filter((_, i) => badIndex.has(i)).map((a) => a.name),
    );
    assert.ok(byPhase('NotStarted').length >= 1, 'some apps were never touched');
    assert.equal(byPhase('RolledBack').length + byPhase('Upgraded').length + byPhase('NotStarted').length, 20);
    for (const target of t.status.targets) {
      const id = (await h.engine.inspectContainer(target.app))?.id;
      if (target.phase === 'Upgraded') {
        assert.equal(await versionOf(target.app), '1.1.0-1');
        continue;
      }
      assert.equal(await versionOf(target.app), '1.0.0-1', `${target.app} (${target.phase}) is on the old version`);
      assert.equal(id, before.get(target.app), `${target.app}: the very same old container runs`);
      assert.ok((await h.engine.inspectContainer(target.app))?.running);
      if (target.phase === 'RolledBack') {
        assert.equal(target.reason, 'ContainerExited');
        const entries = t.status.upgradeDetailedStatuses.filter((e) => e.target === target.app);
        const errored = entries.filter((e) => e.phase === 'Errored');
        assert.equal(errored.length, 1, `${target.app}: one Errored step`);
        assert.equal(errored[0]?.reason, 'ContainerExited');
        assert.ok(
          entries.some((e) => e.step === 'AwaitOld' && e.phase === 'Completed'),
          'the rollback steps are in the status',
        );
      } else {
        assert.equal(target.reason, 'MaxFailureRatioExceeded');
        assert.deepEqual(
          (await historySteps(m, target.app)).map((o) => o.kind),
          ['install'],
          `${target.app} was never upgraded`,
        );
        assert.equal(t.status.upgradeDetailedStatuses.filter((e) => e.target === target.app).length, 0);
      }
    }
    assert.equal(
      t.status.upgradeDetailedStatuses.filter((e) => e.phase === 'Waiting').length,
      0,
      'no entry left Waiting',
    );
  });

  test('describe and list show the outcome per target in plain text; yaml parses', async () => {
    const d = await molt(m, ['task', 'describe', 'up-two']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /Phase:\s+Error \(MaxFailureRatioExceeded\)/);
    assert.match(d.stdout, /two-01\s+1\.0\.0-1\s+1\.1\.0-1\s+RolledBack\s+ContainerExited/);
    assert.match(d.stdout, /two-19\s+1\.0\.0-1\s+1\.1\.0-1\s+NotStarted\s+MaxFailureRatioExceeded/);
    const list = await molt(m, ['task', 'list']);
    assert.match(list.stdout, /^NAME\s+PHASE\s+TARGETS\s+DONE\s+FAILED/m);
    assert.match(list.stdout, /up-one\s+Success\s+20\s+20\s+0/);
    assert.match(list.stdout, /up-two\s+Error\s+20\s+\d+\s+5/);
    const y = parse((await molt(m, ['task', 'get', 'up-two', '-o', 'yaml'])).stdout) as {
      kind: string;
      status: { phase: string };
    };
    assert.deepEqual([y.kind, y.status.phase], ['UpgradeTask', 'Error']);
  });
});

describe('guards and clear refusals', () => {
  test('fromVersion refuses an app that is elsewhere; role narrowing is refused for apps without roles; nothing is touched', async () => {
    const id = (await h.engine.inspectContainer('two-00'))?.id;
    await applyTask('guarded', { target: { app: 'two-00' }, fromVersion: '0.9.0-1', toVersion: '1.2.0-1' });
    const r = await molt(m, ['task', 'run', 'guarded']);
    assert.equal(r.code, 1);
    const t = await getTask(m, 'guarded');
    assert.deepEqual([t.status.targets[0]?.phase, t.status.targets[0]?.reason], ['Refused', 'FromVersionMismatch']);
    assert.deepEqual(
      t.status.upgradeDetailedStatuses.map((e) => [e.step, e.phase, e.reason]),
      [['Precheck', 'Errored', 'FromVersionMismatch']],
    );
    await applyTask('by-role', {
      target: { selector: { matchLabels: { fleet: 'two' } }, role: 'primary' },
      toVersion: '1.2.0-1',
      options: { maxFailureRatio: 1 },
    });
    const roles = await molt(m, ['task', 'run', 'by-role', '-o', 'json']);
    const rt = JSON.parse(roles.stdout) as Awaited<ReturnType<typeof getTask>>;
    assert.ok(rt.status.targets.every((x) => x.phase === 'Refused' && x.reason === 'RolesNotSupported'));
    assert.equal((await h.engine.inspectContainer('two-00'))?.id, id);
    const deleted = await molt(m, ['task', 'delete', 'guarded']);
    assert.match(deleted.stdout, /upgradetask\/guarded deleted/);
    assert.match((await molt(m, ['task', 'get', 'guarded'])).stderr, /error\[TaskNotFound\]: task "guarded" not found/);
  });

  test('a release app is refused as a whole (toVersion does not apply to it) and its members are never selected one by one', async () => {
    const image = await kvImage(h, '1.0.0-1');
    const app = {
      apiVersion: 'molt.dev/v1alpha1',
      kind: 'App',
      metadata: { name: 'kvt', labels: { fleet: 'rel' } },
      spec: {
        release: 'kvt-1',
        roles: [
          { name: 'a', members: 2 },
          { name: 'b', members: 1 },
        ],
        network: { name: net, subnet },
      },
    };
    const installed = await molt(m, [
      'apply',
      '-f',
      writeManifest(
        m,
        'kvt.yaml',
        [kvRelease('kvt-1', '1.0.0-1', image, true), app].map((d) => stringify(d)).join('---\n'),
      ),
    ]);
    assert.equal(installed.code, 0, installed.stderr);
    const ids = await Promise.all(
      ['kvt-a-0', 'kvt-a-1', 'kvt-b-0'].map(async (n) => (await h.engine.inspectContainer(n))?.id),
    );
    await applyTask('rel', {
      target: { selector: { matchLabels: { fleet: 'rel' } } },
      toVersion: '2.0.0-1',
      options: { maxFailureRatio: 1 },
    });
    const t = JSON.parse((await molt(m, ['task', 'run', 'rel', '-o', 'json'])).stdout) as Awaited<
      ReturnType<typeof getTask>
    >;
    assert.deepEqual(
      t.status.targets.map((x) => [x.target, x.phase, x.reason]),
      [['kvt', 'Refused', 'ToReleaseRequired']],
    );
    await applyTask('member', { target: { app: 'kvt-a-1' }, toVersion: '2.0.0-1' });
    const mt = JSON.parse((await molt(m, ['task', 'run', 'member', '-o', 'json'])).stdout) as Awaited<
      ReturnType<typeof getTask>
    >;
    assert.deepEqual(
      mt.status.targets.map((x) => [x.target, x.phase, x.reason]),
      [['kvt-a-1', 'Refused', 'MemberOfReleaseApp']],
    );
    assert.deepEqual(
      await Promise.all(['kvt-a-0', 'kvt-a-1', 'kvt-b-0'].map(async (n) => (await h.engine.inspectContainer(n))?.id)),
      ids,
      'no member was touched',
    );
  });

  test('a task naming an unknown inventory, or a task file given to `molt apply`, is refused', async () => {
    const file = writeManifest(
      m,
      'no-inv.yaml',
      taskDoc('no-inv', { target: { app: 'x' }, toVersion: '1.2.0-1', inventory: 'nowhere' }),
    );
    const r = await molt(m, ['task', 'apply', '-f', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[InventoryNotFound\]: inventory "nowhere" not found/);
    const wrong = await molt(m, ['apply', '-f', file]);
    assert.match(wrong.stderr, /kind UpgradeTask is not taken by this command; apply it with `molt task apply -f`/);
  });
});

/** The most targets whose [startTime, completedTime] intervals overlap at one moment. */
function maxOverlap(targets: Array<{ startTime: string | null; completedTime: string | null }>): number {
  const events = targets
    .flatMap(
      (t) =>
        [
          [Date.parse(t.startTime ?? ''), 1],
          [Date.parse(t.completedTime ?? ''), -1],
        ] as const,
    )
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of events) most = Math.max(most, (now += d));
  return most;
}
