// End to end: UpgradeTasks on the real single-node cluster of test/k8s. The operator (its
// image built offline under this run's own tag, installed from deploy/ with kustomize) runs
// each task as a Job of its own image: `molt --in-cluster task run NAME`, which selects the
// Apps of the namespace by label, patches them one by one (concurrency), awaits the
// operator's rollout and writes every step to the task's status. Checked: a bad task file
// is refused with file:line and nothing is created; 3 of 4 Apps (tier=web) move to the new
// version with their claims' bytes intact and the 4th untouched, the status shows per-target
// per-step statuses and Success 3/3; a task whose image does not exist has its App rolled
// back by the operator and set back by the worker, the step says why, phase Error; the Job
// and its pods are gone after success and after failure; a worker pod killed mid-task is
// replaced by one that continues without redoing settled targets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { moltLimitMs, spawnSyncWithin } from '../command-limit.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  apply,
  buildAndLoadBusybox,
  ensureCluster,
  kubectl,
  kubectlResult,
  loadImage,
  stopClusterIfStarted,
  waitFor,
  type ClusterHandle,
} from '../k8s/cluster.ts';
import { buildOperatorImage, installOperator, OPERATOR_NS, removeOperatorIfLast } from '../k8s/operator.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = join(ROOT, 'node_modules/node/bin/node');
const NS = `molt-task-${randomBytes(3).toString('hex')}`;
const OPERATOR_IMAGE = `localhost/molt-operator:e2e-task-${randomBytes(4).toString('hex')}`;
const REPO = 'localhost/molt-task-web';
const WEB = ['web-a', 'web-b', 'web-c'];
let cluster: ClusterHandle;
let work: string;
let operatorInstalledByUs = false;

function app(name: string, tier: string, version: string): string {
  return `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: ${name}, namespace: ${NS}, labels: {tier: ${tier}}}
spec:
  package: official/${tier}
  version: ${version}
  image: ${REPO}:${version}
  command: [sh, -c, "trap 'exit 0' TERM; sleep $(cat /data/start-delay 2>/dev/null || echo 0); touch /tmp/ready; while true; do sleep 1; done"]
  volumes: [{name: data, mountPath: /data}]
  probes:
    startup: {exec: [cat, /tmp/ready], periodSeconds: 1, failureThreshold: 20}
  stopTimeoutSeconds: 2
`;
}

function task(name: string, target: string, to: string, extra = ''): string {
  return `apiVersion: molt.dev/v1alpha1
kind: UpgradeTask
metadata: {name: ${name}}
spec:
  target: ${target}
  toVersion: ${to}
  options: {concurrency: 3, timeout: 3m${extra}}
`;
}

function molt(args: string[]): { status: number; stdout: string; stderr: string } {
  // The harness waits at least the command's own limit (`task cancel --timeout 3m` was killed at 120 s: issue 19).
  return spawnSyncWithin(
    NODE,
    [
      '--disable-warning=ExperimentalWarning',
      join(ROOT, 'src/cli/main.ts'),
      '--kubeconfig',
      cluster.kubeconfig,
      '-n',
      NS,
      ...args,
    ],
    moltLimitMs(args),
    120_000,
  );
}

function json<T = any>(args: string[]): T {
  return JSON.parse(kubectl([...args, '-o', 'json'])) as T;
}

function taskObj(name: string): any {
  return json(['-n', NS, 'get', 'upgradetasks.molt.dev', name]);
}

function appObj(name: string): any {
  return json(['-n', NS, 'get', 'apps.molt.dev', name]);
}

function exec(pod: string, cmd: string): string {
  return kubectl(['-n', NS, 'exec', pod, '-c', 'main', '--', 'sh', '-c', cmd]);
}

function podUid(pod: string): string {
  return kubectl(['-n', NS, 'get', 'pod', pod, '-o', 'jsonpath={.metadata.uid}']);
}

function taskPods(name: string): string[] {
  return json<{ items: any[] }>(['-n', NS, 'get', 'pods', '-l', `molt.dev/upgrade-task=${name}`]).items.map(
    (p) => p.metadata.name,
  );
}

function jobs(name: string): string[] {
  return json<{ items: any[] }>(['-n', NS, 'get', 'jobs', '-l', `molt.dev/upgrade-task=${name}`]).items.map(
    (j) => j.metadata.name,
  );
}

function taskEvents(name: string): string[] {
  return json<{ items: any[] }>([
    '-n',
    NS,
    'get',
    'events.events.k8s.io',
    '--field-selector',
    `regarding.name=${name}`,
  ]).items.map((e) => e.reason);
}

function diagnostics(name: string): string {
  const logs = kubectlResult(['-n', NS, 'logs', '-l', `molt.dev/upgrade-task=${name}`, '--tail=40', '--prefix']);
  const op = kubectlResult(['-n', OPERATOR_NS, 'logs', 'deploy/molt-operator', '--tail=30']);
  return `task: ${JSON.stringify(taskObj(name).status, null, 1)}\nworker log:\n${logs.stdout}${logs.stderr}\noperator log:\n${op.stdout}`;
}

async function waitTask(name: string, pred: (s: any) => boolean, timeoutMs = 240_000): Promise<any> {
  return waitFor(
    `task ${name}`,
    () => {
      const s = taskObj(name).status ?? {};
      return pred(s) ? s : undefined;
    },
    timeoutMs,
  ).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\n${diagnostics(name)}`);
  });
}

/** The task's Job and its pods are gone, and no ExecPod of any App stayed behind. */
async function waitGone(name: string): Promise<void> {
  const execPods = () =>
    json<{ items: unknown[] }>(['-n', NS, 'get', 'pods', '-l', 'molt.dev/component=exec-pod']).items.length;
  await waitFor(
    `the Job and pods of ${name} (and every ExecPod) to go`,
    () => (jobs(name).length === 0 && taskPods(name).length === 0 && execPods() === 0 ? true : undefined),
    90_000,
  );
}

before(async () => {
  cluster = await ensureCluster();
  work = mkdtempSync(join(tmpdir(), 'molt-k8s-task-'));
  const t0 = Date.now();
  const operatorTar = buildOperatorImage(work, OPERATOR_IMAGE);
  loadImage(operatorTar);
  for (const v of ['1.0.0', '2.0.0', '2.1.0']) buildAndLoadBusybox(`${REPO}:${v}`);
  operatorInstalledByUs = await installOperator(OPERATOR_IMAGE, ['apps.molt.dev', 'upgradetasks.molt.dev']);
  kubectl(['create', 'namespace', NS]);
  process.stderr.write(`# operator built, loaded and running in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
});

after(() => {
  kubectlResult(['-n', NS, 'delete', 'upgradetasks.molt.dev', '--all', '--timeout=60s']);
  kubectlResult(['-n', NS, 'delete', 'apps.molt.dev', '--all', '--timeout=60s']);
  kubectlResult(['delete', 'namespace', NS, '--wait=false']);
  removeOperatorIfLast(operatorInstalledByUs);
  if (work) rmSync(work, { recursive: true, force: true });
  stopClusterIfStarted();
});

test('a bad UpgradeTask file is refused with file:line by `molt --kubeconfig task apply`; nothing is created', () => {
  const bad = join(work, 'bad.yaml');
  writeFileSync(
    bad,
    task('bad', '{selector: {matchLabels: {tier: web}}}', '2.0.0').replace('concurrency: 3', 'concurrency: 0'),
  );
  const r = molt(['task', 'apply', '-f', bad]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`${bad.replaceAll('.', '\\.')}:7:\\d+: spec\\.options\\.concurrency`));
  assert.deepEqual(json<{ items: unknown[] }>(['-n', NS, 'get', 'upgradetasks.molt.dev']).items, []);
});

const sums = new Map<string, string>();
let dbUid = '';

test('an UpgradeTask over 3 Apps selected by label runs as a Job; per-target per-step status; Success 3/3; bytes intact; the 4th untouched', async () => {
  apply([...WEB.map((n) => app(n, 'web', '1.0.0')), app('db-a', 'db', '1.0.0')].join('---\n'));
  for (const n of [...WEB, 'db-a']) {
    await waitFor(
      `${n} Running`,
      () =>
        appObj(n).status?.phase === 'Running' && appObj(n).status?.installedVersion === '1.0.0' ? true : undefined,
      120_000,
    );
  }
  for (const n of WEB)
    sums.set(
      n,
      exec(`${n}-0`, 'dd if=/dev/urandom of=/data/blob bs=1024 count=128 2>/dev/null; sync; md5sum /data/blob').split(
        ' ',
      )[0] ?? '',
    );
  dbUid = podUid('db-a-0');
  const file = join(work, 'web.yaml');
  writeFileSync(file, task('web-2', '{selector: {matchLabels: {tier: web}}}', '2.0.0'));
  const created = molt(['task', 'apply', '-f', file]);
  assert.equal(created.status, 0, created.stderr);
  assert.equal(created.stdout.trim(), 'upgradetask/web-2 created');
  await waitFor('the Job', () => (jobs('web-2').length === 1 ? true : undefined), 60_000);
  const s = await waitTask('web-2', (x) => x.phase === 'Success' || x.phase === 'Error');
  assert.equal(s.phase, 'Success', diagnostics('web-2'));
  assert.equal(s.reason, 'Completed');
  assert.deepEqual(
    { total: s.counts.total, done: s.counts.done, failed: s.counts.failed },
    { total: 3, done: 3, failed: 0 },
  );
  assert.deepEqual(
    s.targets.map((t: any) => [t.name, t.phase, t.fromVersion, t.toVersion, t.toImage]),
    WEB.map((n) => [n, 'Upgraded', '1.0.0', '2.0.0', `${REPO}:2.0.0`]),
  );
  for (const n of WEB) {
    const steps = s.upgradeDetailedStatuses.filter((e: any) => e.target === n).map((e: any) => `${e.step}:${e.phase}`);
    assert.deepEqual(steps, ['Precheck:Completed', 'Apply:Completed', 'AwaitRollout:Completed', 'Verify:Completed'], n);
    const st = appObj(n).status;
    assert.deepEqual([st.installedVersion, st.image, st.lastUpgrade.outcome], ['2.0.0', `${REPO}:2.0.0`, 'Succeeded']);
    assert.equal(exec(`${n}-0`, 'md5sum /data/blob').split(' ')[0], sums.get(n), `${n} keeps its claim's bytes`);
  }
  assert.equal(appObj('db-a').status.installedVersion, '1.0.0');
  assert.equal(appObj('db-a').spec.version, '1.0.0');
  assert.equal(podUid('db-a-0'), dbUid, 'the unselected App was not touched');
  assert.match(s.job, /^molt-task-web-2$/);
  await waitGone('web-2');
  const reasons = taskEvents('web-2');
  for (const r of ['JobCreated', 'JobSucceeded']) assert.ok(reasons.includes(r), `no ${r} in ${reasons}`);
  const got = molt(['task', 'get']);
  assert.match(got.stdout, /web-2\s+Success\s+3\s+3\s+0/);
  const obj = JSON.parse(molt(['task', 'get', 'web-2', '-o', 'json']).stdout);
  assert.deepEqual(
    [obj.kind, obj.status.phase, obj.status.counts.done, obj.metadata.managedFields],
    ['UpgradeTask', 'Success', 3, undefined],
  );
  const described = molt(['task', 'describe', 'web-2']);
  assert.match(described.stdout, /web-a\s+AwaitRollout\s+Completed/);
});

test('a task whose new image does not exist: the operator rolls the App back, the worker sets its spec back, the step says why; Error; Job gone', async () => {
  const uid = podUid('web-a-0');
  const file = join(work, 'missing.yaml');
  writeFileSync(file, task('missing', '{app: web-a}', '3.0.0'));
  assert.equal(molt(['task', 'apply', '-f', file]).status, 0);
  const s = await waitTask('missing', (x) => x.phase === 'Success' || x.phase === 'Error');
  assert.equal(s.phase, 'Error', diagnostics('missing'));
  assert.equal(s.reason, 'MaxFailureRatioExceeded');
  assert.deepEqual(
    s.targets.map((t: any) => [t.name, t.phase, t.reason]),
    [['web-a', 'RolledBack', 'ImagePullFailed']],
  );
  const awaited = s.upgradeDetailedStatuses.find((e: any) => e.target === 'web-a' && e.step === 'AwaitRollout');
  assert.deepEqual([awaited.phase, awaited.reason], ['Errored', 'ImagePullFailed']);
  assert.ok(s.upgradeDetailedStatuses.some((e: any) => e.step === 'SetBack' && e.phase === 'Completed'));
  await waitFor(
    'web-a back on 2.0.0',
    () => {
      const a = appObj('web-a');
      return a.spec.version === '2.0.0' &&
        a.status.installedVersion === '2.0.0' &&
        !a.status.upgrade &&
        a.status.phase === 'Running'
        ? true
        : undefined;
    },
    120_000,
  );
  assert.notEqual(podUid('web-a-0'), uid, 'the member was tried and rolled back');
  assert.equal(exec('web-a-0', 'md5sum /data/blob').split(' ')[0], sums.get('web-a'));
  await waitGone('missing');
  assert.ok(taskEvents('missing').includes('TaskFailed'));
});

test('the worker pod killed mid-task: the replacement continues without redoing settled targets', async () => {
  // web-a..c are at 2.0.0 already (skipped); web-d starts slowly, so the worker is killed while it awaits web-d's rollout.
  apply(['web-d', 'web-e'].map((n) => app(n, 'web', '1.0.0')).join('---\n'));
  for (const n of ['web-d', 'web-e'])
    await waitFor(
      `${n} Running`,
      () =>
        appObj(n).status?.installedVersion === '1.0.0' && appObj(n).status?.phase === 'Running' ? true : undefined,
      120_000,
    );
  exec('web-d-0', 'echo 12 > /data/start-delay');
  const file = join(work, 'kill.yaml');
  writeFileSync(
    file,
    task('kill', '{selector: {matchLabels: {tier: web}}}', '2.0.0').replace('concurrency: 3', 'concurrency: 1'),
  );
  assert.equal(molt(['task', 'apply', '-f', file]).status, 0);
  const applied = (x: any) =>
    (x.upgradeDetailedStatuses ?? []).some(
      (e: any) => e.target === 'web-d' && e.step === 'Apply' && e.phase === 'Completed',
    );
  const mid = await waitTask('kill', applied, 180_000);
  assert.equal(mid.phase, 'Started');
  const settled = mid.targets
    .filter((t: any) => t.phase !== 'Pending' && t.phase !== 'Running')
    .map((t: any) => t.name);
  assert.deepEqual(settled, ['web-a', 'web-b', 'web-c'], 'skipped: already at 2.0.0');
  const stamps = new Map<string, string>(
    mid.upgradeDetailedStatuses
      .filter((e: any) => settled.includes(e.target))
      .map((e: any) => [`${e.target}/${e.step}`, e.lastUpdatedAt]),
  );
  const pods = taskPods('kill');
  assert.equal(pods.length, 1);
  kubectl(['-n', NS, 'delete', 'pod', pods[0]!, '--grace-period=0', '--force', '--wait=false']);
  const s = await waitTask('kill', (x) => x.phase === 'Success' || x.phase === 'Error');
  assert.equal(s.phase, 'Success', diagnostics('kill'));
  assert.ok(s.runs >= 2, `a second worker continued (runs ${s.runs})`);
  assert.deepEqual(
    s.targets.map((t: any) => [t.name, t.phase]),
    [
      ['web-a', 'Skipped'],
      ['web-b', 'Skipped'],
      ['web-c', 'Skipped'],
      ['web-d', 'Upgraded'],
      ['web-e', 'Upgraded'],
    ],
  );
  for (const [key, at] of stamps) {
    const [target, step] = key.split('/');
    const entries = s.upgradeDetailedStatuses.filter((e: any) => e.target === target && e.step === step);
    assert.deepEqual(
      entries.map((e: any) => e.lastUpdatedAt),
      [at],
      `${key} was not redone`,
    );
  }
  const d = s.upgradeDetailedStatuses
    .filter((e: any) => e.target === 'web-d')
    .map((e: any) => `${e.step}:${e.phase}${e.reason ? `:${e.reason}` : ''}`);
  assert.equal(d.filter((x: string) => x.startsWith('Apply')).length, 1, `web-d's spec was patched once: ${d}`);
  assert.ok(
    d.includes('AwaitRollout:Errored:Interrupted') && d.includes('AwaitRollout:Completed'),
    `web-d's rollout was awaited again: ${d}`,
  );
  assert.equal(appObj('web-d').status.lastUpgrade.outcome, 'Succeeded');
  await waitGone('kill');
});

test('`molt task cancel` mid-rollout: the worker sets the App back, the operator rolls it back, untouched targets never start; Error (Cancelled); Job gone', async () => {
  exec('web-b-0', 'echo 15 > /data/start-delay');
  const file = join(work, 'cancel.yaml');
  writeFileSync(
    file,
    task('cancel', '{selector: {matchExpressions: [{key: tier, operator: In, values: [web]}]}}', '2.1.0').replace(
      'concurrency: 3',
      'concurrency: 1',
    ),
  );
  assert.equal(molt(['task', 'apply', '-f', file]).status, 0);
  // web-a goes first (fast), then web-b starts slowly: cancel while its rollout is awaited.
  await waitTask(
    'cancel',
    (x) =>
      (x.upgradeDetailedStatuses ?? []).some(
        (e: any) => e.target === 'web-b' && e.step === 'AwaitRollout' && e.phase === 'Waiting',
      ),
    180_000,
  );
  const r = molt(['task', 'cancel', 'cancel', '--timeout', '3m']);
  assert.equal(r.status, 0, r.stderr);
  const s = taskObj('cancel').status;
  assert.deepEqual([s.phase, s.reason], ['Error', 'Cancelled'], diagnostics('cancel'));
  const phases = Object.fromEntries(s.targets.map((t: any) => [t.name, `${t.phase}/${t.reason}`]));
  assert.equal(phases['web-a'], 'Upgraded/Upgraded');
  assert.equal(phases['web-b'], 'RolledBack/Cancelled');
  for (const n of ['web-c', 'web-d', 'web-e']) assert.equal(phases[n], 'NotStarted/Cancelled', n);
  await waitFor(
    'web-b back on 2.0.0',
    () => {
      const a = appObj('web-b');
      return a.spec.version === '2.0.0' &&
        a.status.installedVersion === '2.0.0' &&
        !a.status.upgrade &&
        a.status.phase === 'Running'
        ? true
        : undefined;
    },
    120_000,
  );
  for (const n of ['web-c', 'web-d', 'web-e']) assert.equal(appObj(n).spec.version, '2.0.0', `${n} untouched`);
  assert.equal(exec('web-b-0', 'md5sum /data/blob').split(' ')[0], sums.get('web-b'));
  await waitGone('cancel');
});

test('a release app selected by label moves to spec.toRelease through the Job; per-step status; Success; bytes intact', async () => {
  const rel = (n: number, version: string, upgradable: boolean) => `apiVersion: molt.dev/v1alpha1
kind: Release
metadata: {name: ${NS}-r${n}}
spec:
  package: official/store
  version: ${version}
  upgradable: ${upgradable}
  roles:
    - name: main
      image: ${REPO}:${version}
      command: [sh, -c, "trap 'exit 0' TERM; touch /tmp/ready; while true; do sleep 1; done"]
      volumes: [{name: data, mountPath: /data}]
      probes: {startup: {exec: [cat, /tmp/ready], periodSeconds: 1, failureThreshold: 20}}
      stopTimeoutSeconds: 2
`;
  apply([rel(1, '1.0.0', true), rel(2, '2.0.0', false)].join('---\n'));
  apply(`apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: store, namespace: ${NS}, labels: {tier: store}}
spec:
  release: ${NS}-r1
  roles: [{name: main, members: 1}]
`);
  try {
    await waitFor(
      'store on r1',
      () =>
        appObj('store').status?.release === `${NS}-r1` && appObj('store').status?.state === 'configured'
          ? true
          : undefined,
      120_000,
    );
    const sum = exec(
      'store-main-0',
      'dd if=/dev/urandom of=/data/blob bs=1024 count=64 2>/dev/null; sync; md5sum /data/blob',
    ).split(' ')[0];
    const file = join(work, 'store.yaml');
    writeFileSync(
      file,
      task('store', '{selector: {matchLabels: {tier: store}}}', '').replace(
        '  toVersion: \n',
        `  toRelease: ${NS}-r2\n`,
      ),
    );
    const r = molt(['task', 'apply', '-f', file]);
    assert.equal(r.status, 0, r.stderr);
    const s = await waitTask('store', (x) => x.phase === 'Success' || x.phase === 'Error');
    assert.equal(s.phase, 'Success', diagnostics('store'));
    assert.deepEqual(
      s.targets.map((t: any) => [t.name, t.phase, t.fromRelease, t.toRelease]),
      [['store', 'Upgraded', `${NS}-r1`, `${NS}-r2`]],
    );
    assert.deepEqual(
      s.upgradeDetailedStatuses.map((e: any) => `${e.step}:${e.phase}`),
      ['Precheck:Completed', 'Apply:Completed', 'AwaitRollout:Completed', 'Verify:Completed'],
    );
    const st = appObj('store').status;
    assert.deepEqual(
      [st.release, st.lastUpgrade.outcome, st.roles[0].members[0].release],
      [`${NS}-r2`, 'Succeeded', `${NS}-r2`],
    );
    assert.equal(exec('store-main-0', 'cat /data/blob | md5sum').split(' ')[0], sum);
    await waitGone('store');
  } finally {
    kubectlResult(['-n', NS, 'delete', 'apps.molt.dev', 'store', '--timeout=60s']);
    kubectlResult(['delete', 'releases.molt.dev', `${NS}-r1`, `${NS}-r2`]);
  }
});
