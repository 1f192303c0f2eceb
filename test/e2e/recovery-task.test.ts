/**
 * The kill-point matrix of the UpgradeTask worker: `molt task run` SIGKILLed at every step
 * boundary of the worker (TASK_STEPS: task Started, targets journaled, each target Running and
 * settled, the final phase) and of a target's own upgrade (FORWARD_STEPS) and rollback
 * (ROLLBACK_STEPS), then run again with `molt task run NAME`. After each: every app whole on
 * one version with its IP and bytes, no helper container, no operation in flight; the task
 * finished with counts equal to its targets, none left Running, each app upgraded at most
 * once, and a target settled before the kill not touched again by the re-run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { boundaries, TASK_STEPS } from '../../src/core/step-boundaries.ts';
import { FORWARD_STEPS, ROLLBACK_STEPS } from '../../src/core/upgrade-machine.ts';
import type { Store } from '../../src/store/store.ts';
import { TaskStore } from '../../src/store/task-store.ts';
import { KillTally, readJournal, volumeSum } from './faults.ts';
import { startPodman, type PodmanHarness } from './harness.ts';
import { appDoc, buildApp, molt, moltEnv, writeManifest, type MoltEnv } from './molt-cli.ts';
import { getTask, taskDoc, type TaskJson } from './fleet-kit.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const REPO = 'localhost/e2e-kill-task';
const APPS = 2;
const CONCURRENCY = 6;
let n = 0;

const PATHS = {
  worker: boundaries(TASK_STEPS),
  targetUpgrade: boundaries(FORWARD_STEPS.upgrade),
  targetRollback: boundaries(ROLLBACK_STEPS.upgrade),
};
const tally = new KillTally('recovery-task', PATHS, 'UpgradeTask worker');

before(async () => {
  h = await startPodman();
  m = moltEnv(h);
  net = h.name('net');
  subnet = h.freeSubnet();
  await Promise.all([
    buildApp(h, REPO, '1.0.0-1'),
    buildApp(h, REPO, '1.1.0-1'),
    buildApp(h, REPO, '1.2.0-1', { EXIT_AT_START: 'broken' }),
  ]);
});
after(async () => {
  console.log(tally.report());
  await h?.stop();
});

const journal = <T>(fn: (store: Store) => T): T => readJournal(m, fn);

interface Survivor {
  name: string;
  ip: string;
  sum: string;
}

/** Installs the point's apps (labelled with the point's task name) with data in their volumes. */
async function installApps(task: string): Promise<Survivor[]> {
  const names = Array.from({ length: APPS }, (_, i) => `${task}-${i}`);
  const docs = names.map((name) => {
    const d = appDoc({ name, version: '1.0.0-1', image: `${REPO}:1.0.0-1`, network: net, subnet }) as {
      metadata: { labels: Record<string, string> };
    };
    d.metadata.labels = { kp: task };
    return stringify(d);
  });
  const r = await molt(m, ['apply', '-f', writeManifest(m, `${task}-apps.yaml`, docs.join('---\n'))]);
  assert.equal(r.code, 0, r.stderr);
  return Promise.all(
    names.map(async (name) => {
      const c = (await h.engine.inspectContainer(name))!;
      assert.equal(
        (await h.engine.exec(c.id, ['sh', '-c', 'dd if=/dev/urandom of=/data/blob bs=1k count=32 2>/dev/null']))
          .exitCode,
        0,
      );
      return { name, ip: c.networks[net] ?? '', sum: await volumeSum(h, `${name}-data`) };
    }),
  );
}

/** The app's operation ids, from the journal. */
const operations = (app: string) =>
  journal((s) => s.listOperations(app).map((o) => `${o.id} ${o.kind} ${o.toVersion} ${o.state.phase}`));

/**
 * One kill point: apps installed, task applied, `molt task run` killed at `point`, then run
 * again. Returns the task, the survivors, and the operations of the targets settled before the
 * re-run (which it must not touch).
 */
async function killAndRerun(path: keyof typeof PATHS, task: string, toVersion: string, point: string) {
  tally.tried(path);
  const apps = await installApps(task);
  const spec = { target: { selector: { matchLabels: { kp: task } } }, toVersion, options: { concurrency: 1 } };
  assert.equal((await molt(m, ['task', 'apply', '-f', writeManifest(m, `${task}.yaml`, taskDoc(task, spec))])).code, 0);
  const killed = await molt(m, ['task', 'run', task], { MOLT_TEST_HOOKS: '1', MOLT_TEST_KILL_AT: point });
  assert.ok(killed.code >= 128, `the worker was killed at ${point} (exit ${killed.code}): ${killed.stderr}`);
  const mid = journal((s) => new TaskStore(s).listTargets(task));
  const settled = new Map(
    mid.filter((t) => !['Pending', 'Running'].includes(t.phase)).map((t) => [t.app, operations(t.app)]),
  );
  const rerun = await molt(m, ['task', 'run', task]);
  assert.ok(rerun.code === 0 || rerun.code === 1, rerun.stderr);
  const t = await getTask(m, task);
  for (const [app, ops] of settled)
    assert.deepEqual(operations(app), ops, `${app} was settled before the re-run and is not touched again`);
  return { t, apps };
}

/** Every app whole on `version`: one running container at its IP with its bytes, no operation in flight. */
async function assertWhole(apps: Survivor[], version: (app: string) => string) {
  for (const a of apps) {
    const cs = await h.engine.listContainers([`dev.molt.app=${a.name}`]);
    assert.deepEqual(
      cs.map((c) => `${c.name} ${c.running} ${c.labels['dev.molt.version']}`),
      [`${a.name} true ${version(a.name)}`],
      `${a.name}: one whole version, no parked or helper container`,
    );
    assert.equal(cs[0]!.networks[net], a.ip, `${a.name} keeps its IP`);
    assert.equal(await volumeSum(h, `${a.name}-data`), a.sum, `${a.name} keeps its bytes`);
    assert.equal(journal((s) => s.inFlightOperation(a.name))?.id, undefined, `${a.name}: no operation in flight`);
  }
}

/** The task is over and its counts are its targets' phases; none left Running or Pending. */
function assertTaskConsistent(t: TaskJson, phase: string) {
  assert.equal(t.status.phase, phase, `${t.status.phase} (${t.status.reason}): ${t.status.message}`);
  const phases = t.status.targets.map((x) => x.phase);
  assert.equal(t.status.counts.total, phases.length);
  assert.deepEqual(
    [t.status.counts.running, t.status.counts.pending],
    [0, 0],
    `no target Running or Pending: ${phases.join(', ')}`,
  );
  assert.equal(
    t.status.counts.done + t.status.counts.failed + t.status.counts.notStarted,
    phases.length,
    'counts add up to the targets',
  );
  assert.equal(t.status.upgradeDetailedStatuses.filter((e) => e.phase === 'Waiting').length, 0, 'no step left Waiting');
}

/** Removes the point's containers and volumes through the engine: fewer idle containers for the next points. */
async function cleanup(apps: Survivor[]) {
  for (const a of apps) {
    for (const c of await h.engine.listContainers([`dev.molt.app=${a.name}`])) await h.engine.removeContainer(c.id);
    await h.engine.removeVolume(`${a.name}-data`);
  }
}

describe('the worker killed at every boundary of an upgrade task, then `molt task run` again', {
  concurrency: CONCURRENCY,
}, () => {
  for (const [path, point] of [
    ...PATHS.worker.map((p) => ['worker', p] as const),
    ...PATHS.targetUpgrade.map((p) => ['targetUpgrade', p] as const),
  ]) {
    test(`killed at ${point}: the task ends Success, each app upgraded exactly once`, async () => {
      const task = `kt${++n}`;
      const { t, apps } = await killAndRerun(path, task, '1.1.0-1', point);
      assertTaskConsistent(t, 'Success');
      assert.deepEqual(
        t.status.targets.map((x) => x.phase),
        apps.map(() => 'Upgraded'),
      );
      for (const a of apps) {
        const upgrades = operations(a.name).filter((o) => o.includes(' upgrade '));
        const target = t.status.targets.find((x) => x.app === a.name);
        assert.deepEqual(
          upgrades,
          [`${target?.operation} upgrade 1.1.0-1 Succeeded`],
          `${a.name} upgraded exactly once, by the operation its target names`,
        );
      }
      await assertWhole(apps, () => '1.1.0-1');
      tally.passed(path);
      await cleanup(apps);
    });
  }
});

describe('the worker killed at every rollback step of a target whose new version fails, then `molt task run` again', {
  concurrency: CONCURRENCY,
}, () => {
  for (const point of PATHS.targetRollback) {
    test(`killed at rollback ${point}: the target ends RolledBack, the rest untouched, the task Error`, async () => {
      const task = `kr${++n}`;
      const { t, apps } = await killAndRerun('targetRollback', task, '1.2.0-1', point);
      assertTaskConsistent(t, 'Error');
      assert.deepEqual(
        t.status.targets.map((x) => x.phase).sort(),
        ['NotStarted', 'RolledBack'],
        'the first target rolled back, the next never started (maxFailureRatio 0)',
      );
      for (const a of apps) {
        const target = t.status.targets.find((x) => x.app === a.name);
        const upgrades = operations(a.name).filter((o) => o.includes(' upgrade '));
        assert.deepEqual(
          upgrades,
          target?.phase === 'RolledBack' ? [`${target.operation} upgrade 1.2.0-1 RolledBack`] : [],
          `${a.name}: one rolled-back attempt, or none`,
        );
      }
      await assertWhole(apps, () => '1.0.0-1');
      tally.passed('targetRollback');
      await cleanup(apps);
    });
  }
});

test('the matrix covered every generated kill point, and all passed', () => tally.assertComplete());
