// End to end: the molt operator on the real single-node cluster of test/k8s. The operator is
// installed from deploy/ (kustomize) with its image built offline by deploy/image/build; an
// inline App with a volume claim installs; an upgrade runs the new version's pre-upgrade
// script in the OLD pod and its post-upgrade script in the NEW pod, each with exactly
// <old> <new>, and keeps the claim's bytes; an operator killed mid-upgrade is replaced by a new
// leader that finishes the upgrade without running anything twice; a missing image is rolled
// back automatically; a downgrade is refused with a status reason and nothing touched;
// ExecPods never stay behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDockerArchive } from '../images/build.ts';
import {
  apply,
  ensureCluster,
  kubectl,
  kubectlResult,
  loadImage,
  stopClusterIfStarted,
  waitFor,
} from '../k8s/cluster.ts';
import { buildOperatorImage, installOperator, OPERATOR_NS, removeOperatorIfLast } from '../k8s/operator.ts';

const NS = `molt-op-${randomBytes(3).toString('hex')}`;
const IMAGE = 'localhost/molt-e2e-app';
/** A tag of this run's own: a concurrent run (or a stale :dev) never swaps the operator's code under us. */
const OPERATOR_IMAGE = `localhost/molt-operator:e2e-${randomBytes(4).toString('hex')}`;
let work: string;
let operatorInstalledByUs = false;

// ---- images: busybox + an entrypoint with the startup gate + scripts that log their argv ----

const START = `#!/bin/sh
if [ -e /.molt/upgrade ]; then
  while [ ! -e /.molt/upgrade-done ]; do sleep 0.2; done
fi
echo "start $(cat /app/VERSION)" >> /data/events
sleep "$(cat /data/start-delay 2>/dev/null || echo 0)"
touch /tmp/ready
trap 'exit 0' TERM
while true; do sleep 1; done
`;
const PRE = `#!/bin/sh
echo "pre-start $1 $2" >> /data/events
sleep "$(cat /data/pre-sleep 2>/dev/null || echo 0)"
echo "pre argc=$# $1 $2 in=$(cat /app/VERSION) dir=$(dirname "$0")" >> /data/events
`;
const POST = '#!/bin/sh\necho "post argc=$# $1 $2 in=$(cat /app/VERSION) gate=$(cat /.molt/upgrade)" >> /data/events\n';

/** A one-layer docker-archive of a busybox image holding the app files. */
async function appImageTar(version: string, file: string): Promise<void> {
  await writeDockerArchive(
    file,
    `${IMAGE}:${version}`,
    {
      '/app/VERSION': version,
      '/app/start.sh': { content: START, mode: 0o755 },
      '/app/pre-upgrade.sh': { content: PRE, mode: 0o755 },
      '/app/post-upgrade.sh': { content: POST, mode: 0o755 },
      '/data/.keep': '',
    },
    '/app/start.sh',
  );
}

// ---- helpers ----

function app(version: string, image: string, extra = ''): string {
  return `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: notes, namespace: ${NS}, labels: {tier: db}}
spec:
  package: official/notes
  version: ${version}
  image: ${image}
  volumes: [{name: data, mountPath: /data}]
  probes:
    startup: {exec: [cat, /tmp/ready], periodSeconds: 1, failureThreshold: 20}
  stopTimeoutSeconds: 2
${extra}`;
}

const SCRIPTS = '  upgrade: {preUpgrade: /app/pre-upgrade.sh, postUpgrade: /app/post-upgrade.sh}\n';

function json<T = any>(args: string[]): T {
  return JSON.parse(kubectl([...args, '-o', 'json'])) as T;
}

function appStatus(): any {
  return json(['-n', NS, 'get', 'apps.molt.dev', 'notes']).status ?? {};
}

function condition(type: string): any {
  return (appStatus().conditions ?? []).find((c: any) => c.type === type);
}

function exec(cmd: string): string {
  return kubectl(['-n', NS, 'exec', 'notes-0', '-c', 'main', '--', 'sh', '-c', cmd]);
}

function execPods(): string[] {
  return json<{ items: any[] }>(['-n', NS, 'get', 'pods', '-l', 'molt.dev/component=exec-pod']).items.map(
    (p) => p.metadata.name,
  );
}

function events(): { reason: string; note: string; type: string }[] {
  return json<{ items: any[] }>([
    '-n',
    NS,
    'get',
    'events.events.k8s.io',
    '--field-selector',
    'regarding.name=notes',
  ]).items.map((e) => ({ reason: e.reason, note: e.note ?? '', type: e.type }));
}

function operatorPod(): string {
  const pods = json<{ items: any[] }>([
    '-n',
    OPERATOR_NS,
    'get',
    'pods',
    '-l',
    'app.kubernetes.io/name=molt-operator',
  ]).items;
  return pods.find((p) => !p.metadata.deletionTimestamp)?.metadata.name ?? '';
}

function podUid(): string {
  return kubectl(['-n', NS, 'get', 'pod', 'notes-0', '-o', 'jsonpath={.metadata.uid}']);
}

async function waitApp(what: string, pred: (s: any) => boolean, timeoutMs = 120_000): Promise<any> {
  return waitFor(
    what,
    () => {
      const s = appStatus();
      return pred(s) ? s : undefined;
    },
    timeoutMs,
  ).catch((e: unknown) => {
    throw new Error(
      `${(e as Error).message}\nstatus: ${JSON.stringify(appStatus(), null, 1)}\nevents: ${JSON.stringify(events().slice(-10))}\n${operatorLogs()}`,
    );
  });
}

function operatorLogs(): string {
  const r = kubectlResult(['-n', OPERATOR_NS, 'logs', 'deploy/molt-operator', '--tail=40']);
  return `operator log:\n${r.stdout}${r.stderr}`;
}

// ---- set-up: cluster, images, operator ----

before(async () => {
  await ensureCluster();
  work = mkdtempSync(join(tmpdir(), 'molt-k8s-op-'));
  const t0 = Date.now();
  const log = (what: string) => process.stderr.write(`# ${what} after ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  const operatorTar = buildOperatorImage(work, OPERATOR_IMAGE);
  for (const v of ['1.0.0', '2.0.0', '2.1.0']) await appImageTar(v, join(work, `app-${v}.tar`));
  log('operator and app images built');
  loadImage(operatorTar, ...['1.0.0', '2.0.0', '2.1.0'].map((v) => join(work, `app-${v}.tar`)));
  log('images loaded');
  operatorInstalledByUs = await installOperator(OPERATOR_IMAGE, [
    'apps.molt.dev',
    'releases.molt.dev',
    'upgradetasks.molt.dev',
  ]);
  kubectl(['create', 'namespace', NS]);
  process.stderr.write(`# operator image built, loaded and running in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
});

after(() => {
  const keepLog = process.env['MOLT_E2E_OPERATOR_LOG'];
  if (keepLog)
    writeFileSync(
      keepLog,
      kubectlResult(['-n', OPERATOR_NS, 'logs', '-l', 'app.kubernetes.io/name=molt-operator', '--tail=-1', '--prefix'])
        .stdout,
    );
  kubectlResult(['-n', NS, 'delete', 'apps.molt.dev', '--all', '--timeout=60s']);
  kubectlResult(['delete', 'namespace', NS, '--wait=false']);
  // Another test process (another run of this file) may be using the operator: leave it then.
  removeOperatorIfLast(operatorInstalledByUs);
  if (work) rmSync(work, { recursive: true, force: true });
  stopClusterIfStarted();
});

// ---- the tests (in order: each builds on the App the previous one left) ----

test('the operator serves /healthz, /readyz and controller-runtime metrics, and holds the Lease', async (t) => {
  const pod = operatorPod();
  const lease = await waitFor(
    'the operator to hold the Lease',
    () => {
      const l = json(['-n', OPERATOR_NS, 'get', 'lease', 'molt-operator']);
      return l.spec.holderIdentity === pod ? l : undefined;
    },
    60_000,
  );
  assert.equal(lease.spec.leaseDurationSeconds, 15);
  const get = (path: string) =>
    kubectl(['get', '--raw', `/api/v1/namespaces/${OPERATOR_NS}/pods/${pod}:8081/proxy${path}`]);
  assert.equal(get('/healthz'), 'ok');
  assert.match(get('/readyz'), /readyz check passed/);
  const metrics = get('/metrics');
  const rss = /^process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1];
  t.diagnostic(`operator RSS ${Math.round(Number(rss) / 2 ** 20)} MiB`);
  for (const m of [
    'controller_runtime_reconcile_total',
    'controller_runtime_reconcile_time_seconds',
    'workqueue_depth',
    'leader_election_master_status{name="molt-operator"} 1',
  ]) {
    assert.ok(metrics.includes(m), `${m} missing from /metrics`);
  }
});

let blobSum = '';

test('an inline App with a volume claim installs as a one-member StatefulSet (OnDelete)', async () => {
  apply(app('1.0.0', `${IMAGE}:1.0.0`, SCRIPTS));
  const s = await waitApp(
    'notes 1.0.0 Running',
    (x) => x.phase === 'Running' && x.installedVersion === '1.0.0' && condition('Ready')?.status === 'True',
  );
  assert.equal(s.observedGeneration, 1);
  assert.deepEqual(
    s.members.map((m: any) => [m.name, m.version, m.ready]),
    [['notes-0', '1.0.0', true]],
  );
  const sts = json(['-n', NS, 'get', 'statefulset', 'notes']);
  assert.equal(sts.spec.updateStrategy.type, 'OnDelete');
  assert.equal(sts.metadata.ownerReferences[0].kind, 'App');
  assert.equal(json(['-n', NS, 'get', 'pvc', 'data-notes-0']).status.phase, 'Bound');
  assert.ok(json(['-n', NS, 'get', 'apps.molt.dev', 'notes']).metadata.finalizers.includes('molt.dev/cleanup'));
  assert.match(kubectl(['-n', NS, 'get', 'apps.molt.dev']), /notes\s+1\.0\.0\s+Running/);
  blobSum =
    exec('dd if=/dev/urandom of=/data/blob bs=1024 count=256 2>/dev/null; sync; md5sum /data/blob').split(' ')[0] ?? '';
  assert.match(blobSum, /^[0-9a-f]{32}$/);
});

test('an upgrade runs pre-upgrade in the old pod and post-upgrade in the new one with exactly <old> <new>; bytes intact', async () => {
  const oldUid = podUid();
  apply(app('2.0.0', `${IMAGE}:2.0.0`, SCRIPTS));
  const s = await waitApp(
    'notes 2.0.0 Running',
    (x) => x.installedVersion === '2.0.0' && x.phase === 'Running' && !x.upgrade,
  );
  assert.equal(s.lastUpgrade.outcome, 'Succeeded');
  assert.notEqual(podUid(), oldUid, 'the member was replaced');
  const lines = exec('cat /data/events').trim().split('\n');
  const pre = lines.find((l) => l.startsWith('pre '));
  const post = lines.find((l) => l.startsWith('post '));
  assert.match(
    pre ?? '',
    /^pre argc=2 1\.0\.0 2\.0\.0 in=1\.0\.0 dir=\/tmp\/molt-pre-upgrade-\d+-\d+$/,
    lines.join('\n'),
  );
  assert.equal(post, 'post argc=2 1.0.0 2.0.0 in=2.0.0 gate=1.0.0 2.0.0');
  assert.deepEqual(
    lines.filter((l) => l.startsWith('start')),
    ['start 1.0.0', 'start 2.0.0'],
  );
  assert.ok(
    lines.indexOf(post ?? '') < lines.indexOf('start 2.0.0'),
    'the new version started only after its post-upgrade script (startup gate)',
  );
  assert.equal(exec('md5sum /data/blob').split(' ')[0], blobSum, 'the claim keeps its bytes');
  const tpl = json(['-n', NS, 'get', 'statefulset', 'notes']).spec.template;
  assert.equal(
    tpl.spec.containers[0].startupProbe.failureThreshold,
    20,
    'the raised startup budget is restored after the upgrade',
  );
  assert.equal(tpl.metadata.annotations?.['molt.dev/upgrade-mode'], undefined);
  assert.deepEqual(execPods(), [], 'the ExecPod is gone after success');
  const reasons = events().map((e) => e.reason);
  for (const r of [
    'UpgradeStarted',
    'ExecPodCreated',
    'PreUpgradeSucceeded',
    'TemplateSwitched',
    'MemberRestarted',
    'PostUpgradeSucceeded',
    'Upgraded',
  ])
    assert.ok(reasons.includes(r), `no ${r} event in ${reasons}`);
});

test('the operator killed mid-upgrade (during the pre-upgrade script): the new leader finishes it, nothing runs twice', async () => {
  exec('echo 10 > /data/pre-sleep; echo 3 > /data/start-delay');
  const before = operatorPod();
  const uid = podUid();
  apply(app('2.1.0', `${IMAGE}:2.1.0`, SCRIPTS));
  await waitFor(
    'the pre-upgrade script to start',
    () => (exec('cat /data/events').includes('pre-start 2.0.0 2.1.0') ? true : undefined),
    60_000,
  );
  kubectl(['-n', OPERATOR_NS, 'delete', 'pod', before, '--grace-period=0', '--force', '--wait=false']);
  const s = await waitApp(
    'notes 2.1.0 Running under the new leader',
    (x) => x.installedVersion === '2.1.0' && x.phase === 'Running' && !x.upgrade,
    180_000,
  );
  assert.equal(s.lastUpgrade.outcome, 'Succeeded');
  const lease = json(['-n', OPERATOR_NS, 'get', 'lease', 'molt-operator']);
  assert.notEqual(lease.spec.holderIdentity, before, 'another operator pod leads now');
  assert.ok(lease.spec.leaseTransitions >= 1);
  const lines = exec('cat /data/events').trim().split('\n');
  const count = (prefix: string) => lines.filter((l) => l.startsWith(prefix)).length;
  assert.equal(count('pre-start 2.0.0 2.1.0'), 1, `the pre-upgrade script ran once:\n${lines.join('\n')}`);
  assert.equal(count('pre argc=2 2.0.0 2.1.0 in=2.0.0'), 1);
  assert.equal(count('post argc=2 2.0.0 2.1.0 in=2.1.0'), 1);
  assert.equal(count('start 2.1.0'), 1);
  assert.notEqual(podUid(), uid);
  const restarts = events().filter((e) => e.reason === 'MemberRestarted' && e.note.includes('2.1.0'));
  assert.equal(restarts.length, 1, 'the member was restarted once');
  assert.equal(exec('md5sum /data/blob').split(' ')[0], blobSum);
  exec('rm -f /data/pre-sleep /data/start-delay');
  assert.deepEqual(execPods(), []);
});

test('a release whose image is missing is rolled back automatically, with an Event and a condition saying why', async () => {
  const uid = podUid();
  apply(app('3.0.0', `${IMAGE}:3.0.0-missing`));
  const s = await waitApp(
    'the rollback to 2.1.0',
    (x) =>
      x.lastUpgrade?.to === '3.0.0' && !x.upgrade && x.phase === 'Running' && condition('Ready')?.status === 'True',
    180_000,
  );
  assert.equal(s.lastUpgrade.outcome, 'RolledBack');
  assert.equal(s.lastUpgrade.reason, 'ImagePullFailed');
  assert.equal(s.installedVersion, '2.1.0');
  assert.equal(condition('Progressing').reason, 'RolledBack');
  assert.match(condition('Progressing').message, /ImagePullFailed/);
  assert.notEqual(podUid(), uid);
  assert.equal(json(['-n', NS, 'get', 'pod', 'notes-0']).spec.containers[0].image, `${IMAGE}:2.1.0`);
  assert.equal(exec('cat /app/VERSION').trim(), '2.1.0');
  assert.equal(exec('md5sum /data/blob').split(' ')[0], blobSum);
  const warnings = events()
    .filter((e) => e.type === 'Warning')
    .map((e) => e.reason);
  assert.ok(warnings.includes('RollingBack') && warnings.includes('RolledBack'), `warnings: ${warnings}`);
  assert.deepEqual(execPods(), []);
});

test('a missing image with a pre-upgrade script is caught by the ExecPod: aborted, the member never touched', async () => {
  const uid = podUid();
  apply(app('3.0.1', `${IMAGE}:3.0.1-missing`, SCRIPTS));
  const s = await waitApp('the abort', (x) => x.lastUpgrade?.to === '3.0.1' && !x.upgrade, 120_000);
  assert.equal(s.lastUpgrade.outcome, 'Aborted');
  assert.equal(s.lastUpgrade.reason, 'ImagePullFailed');
  assert.equal(podUid(), uid, 'the member was not restarted');
  await waitFor('the ExecPod to go', () => (execPods().length === 0 ? true : undefined), 30_000);
});

test('a downgrade without forceUpgrade is refused with a status reason; nothing is touched', async () => {
  const uid = podUid();
  const stsBefore = json(['-n', NS, 'get', 'statefulset', 'notes']);
  apply(app('1.0.0', `${IMAGE}:1.0.0`, SCRIPTS));
  await waitApp(
    'the refusal',
    (x) =>
      x.observedGeneration === json(['-n', NS, 'get', 'apps.molt.dev', 'notes']).metadata.generation &&
      condition('Progressing')?.reason === 'DowngradeRefused',
  );
  assert.match(condition('Progressing').message, /1\.0\.0 is lower than the installed 2\.1\.0/);
  assert.equal(appStatus().installedVersion, '2.1.0');
  assert.equal(podUid(), uid);
  const stsAfter = json(['-n', NS, 'get', 'statefulset', 'notes']);
  assert.equal(stsAfter.metadata.generation, stsBefore.metadata.generation, 'the StatefulSet was not changed');
  assert.ok(events().some((e) => e.type === 'Warning' && e.reason === 'DowngradeRefused'));
});

test('a namespace switch (official/notes → premium/notes) without allowNamespaceSwitch is refused with a status reason; nothing is touched', async () => {
  const uid = podUid();
  const stsBefore = json(['-n', NS, 'get', 'statefulset', 'notes']);
  apply(app('2.2.0', `${IMAGE}:2.1.0`, SCRIPTS).replace('package: official/notes', 'package: premium/notes'));
  await waitApp(
    'the refusal',
    (x) =>
      x.observedGeneration === json(['-n', NS, 'get', 'apps.molt.dev', 'notes']).metadata.generation &&
      condition('Progressing')?.reason === 'NamespaceSwitchRefused',
  );
  assert.match(condition('Progressing').message, /official.*premium|premium.*official/);
  assert.equal(appStatus().installedVersion, '2.1.0');
  assert.equal(podUid(), uid);
  assert.equal(
    json(['-n', NS, 'get', 'statefulset', 'notes']).metadata.generation,
    stsBefore.metadata.generation,
    'the StatefulSet was not changed',
  );
  assert.ok(events().some((e) => e.type === 'Warning' && e.reason === 'NamespaceSwitchRefused'));
});

test('deleting the App removes its ExecPods and StatefulSet; the claim (the data) stays', async () => {
  kubectl(['-n', NS, 'delete', 'apps.molt.dev', 'notes', '--timeout=60s']);
  await waitFor(
    'the StatefulSet to go',
    () => (kubectlResult(['-n', NS, 'get', 'statefulset', 'notes']).status !== 0 ? true : undefined),
    60_000,
  );
  assert.deepEqual(execPods(), []);
  assert.equal(json(['-n', NS, 'get', 'pvc', 'data-notes-0']).status.phase, 'Bound');
});
