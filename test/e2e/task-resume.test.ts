/**
 * The task worker dying or being stopped, on real Podman: SIGKILL mid-task (at a random
 * moment, and at a fixed step boundary) and a re-run that finishes with no app upgraded
 * twice and none half-done; a detached worker cancelled with `molt task cancel` (in-flight
 * work rolls back, nothing new starts); cancel when the worker is already dead; and a
 * stopped (not cancelled) worker whose task the next run continues.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPodman, type PodmanHarness } from './harness.ts';
import { buildApp, molt, moltEnv, spawnMolt, writeManifest, type MoltEnv } from './molt-cli.ts';
import { fleet, getTask, historySteps, installFleet, taskDoc, type FleetApp, type TaskJson } from './fleet-kit.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const REPO = 'localhost/e2e-resume';
let killed: FleetApp[];
let hooked: FleetApp[];
let slow: FleetApp[];

before(async () => {
  h = await startPodman();
  m = moltEnv(h);
  net = h.name('net');
  subnet = h.freeSubnet();
  await Promise.all([
    buildApp(h, REPO, '1.0.0-1'),
    buildApp(h, REPO, '1.1.0-1'),
    buildApp(h, REPO, '1.3.0-1', { NEVER_READY: '1' }),
  ]);
  killed = fleet('k', 20, subnet, () => REPO, '1.0.0-1', 20);
  hooked = fleet('hk', 4, subnet, () => REPO, '1.0.0-1', 60);
  slow = fleet('s', 4, subnet, () => REPO, '1.0.0-1', 80);
  await installFleet(m, killed, { version: '1.0.0-1', network: net, subnet, labels: { fleet: 'k' } });
  await installFleet(m, hooked, { version: '1.0.0-1', network: net, subnet, labels: { fleet: 'hk' } });
  await installFleet(m, slow, {
    version: '1.0.0-1',
    network: net,
    subnet,
    labels: { fleet: 's' },
    failureThreshold: 100000,
  });
});
after(async () => h?.stop());

const applyTask = async (name: string, spec: Record<string, unknown>) => {
  const r = await molt(m, ['task', 'apply', '-f', writeManifest(m, `${name}.yaml`, taskDoc(name, spec))]);
  assert.equal(r.code, 0, r.stderr);
};

/** Starts a foreground worker; resolves once its stderr matches `until` (or it exits), at once without `until`. */
async function workerUntil(name: string, until?: RegExp, extra: Record<string, string> = {}) {
  const child = spawnMolt(m, ['task', 'run', name], extra);
  let err = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (until?.test(err)) resolve();
    });
    void exited.then(() => resolve());
    if (!until) resolve();
  });
  return { child, exited, stderr: () => err };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** True when the process is gone (or a zombie: it has exited, its parent was the detaching command). */
function exited(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/** Every app: one container, named as the app, running `version`, same IP; status agrees; no operation in flight. */
async function assertWhole(apps: FleetApp[], version: string) {
  for (const app of apps) {
    const cs = await h.engine.listContainers([`dev.molt.app=${app.name}`]);
    assert.deepEqual(
      cs.map((c) => [c.name, c.running, c.labels['dev.molt.version']]),
      [[app.name, true, version]],
      `${app.name}: one whole version`,
    );
    assert.equal(cs[0]?.networks[net], app.ipv4, `${app.name} kept its IP`);
    const status = JSON.parse((await molt(m, ['get', 'app', app.name, '-o', 'json'])).stdout).status;
    assert.deepEqual(
      [status.phase, status.installedVersion, status.lastUpgrade.outcome],
      ['Running', version, status.lastUpgrade.outcome === 'InProgress' ? 'not in flight' : status.lastUpgrade.outcome],
    );
  }
}

describe('the worker killed with SIGKILL mid-task, then run again', () => {
  test('at a random moment: the re-run finishes; no app upgraded twice, none half-done', async () => {
    await applyTask('kill-me', {
      target: { selector: { matchLabels: { fleet: 'k' } } },
      toVersion: '1.1.0-1',
      options: { concurrency: 4 },
    });
    const w = await workerUntil('kill-me', /\[5\/20\]/);
    w.child.kill('SIGKILL');
    await w.exited;
    const mid = await getTask(m, 'kill-me');
    assert.equal(mid.status.phase, 'Started');
    assert.ok(
      mid.status.counts.done >= 5 && mid.status.counts.done < 20,
      `killed mid-task (${JSON.stringify(mid.status.counts)})`,
    );
    const rerun = await molt(m, ['task', 'run', 'kill-me']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /resuming \(run 2\)/);
    const t = await getTask(m, 'kill-me');
    assert.deepEqual([t.status.phase, t.status.runs, t.status.counts.done], ['Success', 2, 20]);
    await assertUpgradedOnce(t, killed);
  });

  test('at a step boundary (after StartNew of the first app): the re-run finishes it and the rest', async () => {
    await applyTask('kill-hook', {
      target: { selector: { matchLabels: { fleet: 'hk' } } },
      toVersion: '1.1.0-1',
      options: { concurrency: 2 },
    });
    const first = await molt(m, ['task', 'run', 'kill-hook'], {
      MOLT_TEST_HOOKS: '1',
      MOLT_TEST_KILL_AT: 'StartNew:after',
    });
    assert.ok(first.code >= 128, `the worker was killed (${first.code}): ${first.stderr}`);
    const mid = await getTask(m, 'kill-hook');
    assert.ok(
      mid.status.targets.some((x) => x.phase === 'Running'),
      'a target was left Running',
    );
    const rerun = await molt(m, ['task', 'run', 'kill-hook']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /resuming: operation \d+ of the previous run/);
    const t = await getTask(m, 'kill-hook');
    assert.equal(t.status.phase, 'Success');
    await assertUpgradedOnce(t, hooked);
  });
});

/** Each app has exactly one upgrade to 1.1.0-1 — the one its target names — and is whole on it. */
async function assertUpgradedOnce(t: TaskJson, apps: FleetApp[]) {
  for (const app of apps) {
    const target = t.status.targets.find((x) => x.app === app.name);
    assert.equal(target?.phase, 'Upgraded', app.name);
    const upgrades = (await historySteps(m, app.name)).filter((o) => o.kind === 'upgrade');
    assert.deepEqual(
      upgrades.map((o) => [o.id, o.to, o.outcome]),
      [[target?.operation, '1.1.0-1', 'Succeeded']],
      `${app.name} was upgraded exactly once`,
    );
  }
  await assertWhole(apps, '1.1.0-1');
  const entries = t.status.upgradeDetailedStatuses;
  assert.equal(entries.filter((e) => e.phase === 'Waiting').length, 0, 'no entry left Waiting');
  for (const e of entries.filter((x) => x.phase === 'Errored'))
    assert.equal(e.reason, 'Interrupted', `${e.target} ${e.step}: only the killed steps errored`);
}

describe('cancel and stop', () => {
  const spec = {
    target: { selector: { matchLabels: { fleet: 's' } } },
    toVersion: '1.3.0-1',
    options: { concurrency: 2 },
  };
  const awaiting = (name: string) =>
    waitFor(`a target of ${name} in AwaitReady`, async () => {
      const t = await getTask(m, name);
      return t.status.upgradeDetailedStatuses.some((e) => e.step === 'AwaitReady' && e.phase === 'Waiting')
        ? t
        : undefined;
    });
  const ids = async () => Promise.all(slow.map(async (a) => (await h.engine.inspectContainer(a.name))?.id));

  test('a detached worker outlives its command; cancel rolls back what is in flight and starts nothing new', async () => {
    const before = await ids();
    await applyTask('bg', spec);
    const r = await molt(m, ['task', 'run', 'bg', '--detach']);
    assert.equal(r.code, 0, r.stderr);
    const pid = Number(/running in the background \(pid (\d+)\)/.exec(r.stdout)?.[1]);
    assert.ok(pid > 0, r.stdout);
    const mid = await awaiting('bg');
    assert.equal(mid.status.phase, 'Started');
    const second = await molt(m, ['task', 'run', 'bg']);
    assert.equal(second.code, 1);
    assert.match(
      second.stderr,
      new RegExp(`error\\[TaskBusy\\]: task "bg" is already being run by pid ${pid} on .*log .*bg\\.log`),
    );
    const cancel = await molt(m, ['task', 'cancel', 'bg']);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stderr, new RegExp(`worker pid ${pid} on .* rolls back what is in flight`));
    const t = await getTask(m, 'bg');
    assert.deepEqual([t.status.phase, t.status.reason], ['Error', 'Cancelled']);
    const phases = t.status.targets.map((x) => `${x.phase}/${x.reason}`);
    assert.deepEqual([...new Set(phases)].sort(), ['NotStarted/Cancelled', 'RolledBack/Cancelled'], phases.join(' '));
    assert.equal(phases.filter((p) => p === 'RolledBack/Cancelled').length, 2, 'the two in flight were rolled back');
    assert.ok(exited(pid), 'the worker has exited');
    assert.deepEqual(await ids(), before, 'every app runs its very same old container');
    await assertWhole(slow, '1.0.0-1');
    const log = join(m.home, 'tasks', 'bg.log');
    assert.ok(existsSync(log) && /cancel requested/.test(readFileSync(log, 'utf8')), 'the worker logged to its file');
  });

  test('cancel with the worker dead rolls back what it left in flight, here', async () => {
    await applyTask('dead', spec);
    const w = await workerUntil('dead');
    await awaiting('dead');
    w.child.kill('SIGKILL');
    await w.exited;
    const cancel = await molt(m, ['task', 'cancel', 'dead']);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stderr, /no worker is running task\/dead; cancelling it here/);
    const t = await getTask(m, 'dead');
    assert.deepEqual([t.status.phase, t.status.reason], ['Error', 'Cancelled']);
    assert.ok(t.status.targets.filter((x) => x.phase === 'RolledBack').length >= 1);
    assert.ok(t.status.targets.every((x) => x.phase === 'RolledBack' || x.phase === 'NotStarted'));
    await assertWhole(slow, '1.0.0-1');
    const again = await molt(m, ['task', 'cancel', 'dead']);
    assert.match(again.stderr, /already finished: Error \(Cancelled\); nothing to cancel/);
  });

  test('a stopped worker (SIGTERM, no cancel) leaves the task Started with its targets Pending for the next run', async () => {
    await applyTask('paused', spec);
    const w = await workerUntil('paused');
    await awaiting('paused');
    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 130, w.stderr());
    assert.match(w.stderr(), /stopping: rolling back what is in flight/);
    const t = await getTask(m, 'paused');
    assert.equal(t.status.phase, 'Started');
    assert.ok(
      t.status.targets.every((x) => x.phase === 'Pending' && x.attempts === 0),
      JSON.stringify(t.status.targets.map((x) => [x.phase, x.attempts])),
    );
    await assertWhole(slow, '1.0.0-1');
    const cancel = await molt(m, ['task', 'cancel', 'paused']);
    assert.equal(cancel.code, 0, cancel.stderr);
    const done = await getTask(m, 'paused');
    assert.ok(done.status.targets.every((x) => x.phase === 'NotStarted'));
  });
});
