// End to end: Apps that run a Release, reconciled by the molt operator on the real cluster of
// test/k8s (shared with the other k8s-*.test.ts files through acquire/release). An App of two
// roles (2 + 2 members, a claim each) installs as two StatefulSets; refusals (release and
// member change in one edit, a release not marked upgradable, a sealed release, a downgrade)
// touch nothing; marking the release upgradable starts the rollout: per role members 1 then 0,
// both roles at once (from the times in status), lifecycle hooks with the right flags, bytes
// intact; a release whose image is missing is rolled back member by member, automatically.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { moltLimitMs, spawnSyncWithin } from '../command-limit.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import tar from 'tar-stream';
import { rootfsTar } from '../images/build.ts';
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

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUN = randomBytes(3).toString('hex');
const NS = `molt-rel-${RUN}`;
const IMAGE = 'localhost/molt-e2e-rel';
const OPERATOR_IMAGE = `localhost/molt-operator:e2e-rel-${randomBytes(4).toString('hex')}`;
/** Release names are cluster-wide: this run's own. */
const rel = (n: number | string) => `db-${RUN}-${n}`;
let work: string;
let operatorInstalledByUs = false;

const START = `#!/bin/sh
echo "start $(cat /app/VERSION) $MOLT_MEMBER $MOLT_ROLE $MOLT_ORDINAL" >> /data/events
touch /tmp/ready
trap 'exit 0' TERM
while true; do sleep 1; done
`;
const LIFECYCLE = '#!/bin/sh\necho "$1 $(cat /app/VERSION) $MOLT_MEMBER" >> /data/hooks\n';

/** A one-layer docker-archive of busybox with the app files. */
async function imageTar(version: string, file: string): Promise<void> {
  const layer = await rootfsTar({
    '/app/VERSION': version,
    '/app/start.sh': { content: START, mode: 0o755 },
    '/app/lifecycle.sh': { content: LIFECYCLE, mode: 0o755 },
    '/data/.keep': '',
  });
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const diff = sha(layer);
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: { Env: ['PATH=/bin:/usr/bin'], Entrypoint: ['/bin/sh', '/app/start.sh'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diff}`] },
  });
  const pack = tar.pack();
  pack.entry({ name: `${diff}/layer.tar` }, layer);
  pack.entry({ name: `${sha(config)}.json` }, config);
  pack.entry(
    { name: 'manifest.json' },
    JSON.stringify([
      { Config: `${sha(config)}.json`, RepoTags: [`${IMAGE}:${version}`], Layers: [`${diff}/layer.tar`] },
    ]),
  );
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  writeFileSync(file, Buffer.concat(chunks));
}

function release(n: number | string, version: string, image: string, upgradable?: boolean): string {
  const role = (name: string) => `    - name: ${name}
      image: ${image}
      lifecycle: /app/lifecycle.sh
      volumes: [{name: data, mountPath: /data}]
      probes: {startup: {exec: [cat, /tmp/ready], periodSeconds: 1, failureThreshold: 20}}
      minReadySeconds: 0
      stopTimeoutSeconds: 2`;
  return `apiVersion: molt.dev/v1alpha1
kind: Release
metadata: {name: ${rel(n)}}
spec:
  package: official/db
  version: ${version}
${upgradable === undefined ? '' : `  upgradable: ${upgradable}\n`}  roles:
${role('primary')}
${role('replica')}
`;
}

function appDoc(name: string, releaseName: string, primary = 2, replica = 2): string {
  return `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: ${name}, namespace: ${NS}}
spec:
  release: ${releaseName}
  roles: [{name: primary, members: ${primary}}, {name: replica, members: ${replica}}]
`;
}

function json<T = any>(args: string[]): T {
  return JSON.parse(kubectl([...args, '-o', 'json'])) as T;
}
const status = (app = 'db'): any => json(['-n', NS, 'get', 'apps.molt.dev', app]).status ?? {};
const condition = (s: any, type: string): any => (s.conditions ?? []).find((c: any) => c.type === type);
const exec = (pod: string, cmd: string): string =>
  kubectl(['-n', NS, 'exec', pod, '-c', 'main', '--', 'sh', '-c', cmd]);
const PODS = ['db-primary-0', 'db-primary-1', 'db-replica-0', 'db-replica-1'];
const uids = (): Record<string, string> =>
  Object.fromEntries(
    json<{ items: any[] }>(['-n', NS, 'get', 'pods', '-l', 'molt.dev/app=db']).items.map((p) => [
      p.metadata.name,
      p.metadata.uid,
    ]),
  );
const stsGenerations = (): number[] =>
  ['db-primary', 'db-replica'].map((s) => json(['-n', NS, 'get', 'statefulset', s]).metadata.generation);
const images = (): string[] => PODS.map((p) => json(['-n', NS, 'get', 'pod', p]).spec.containers[0].image);

/** The hook calls a member saw, in order: each exactly once, also across an operator replaced mid-rollout (release/hooks.ts). */
function hookLines(pod: string): string[] {
  return exec(pod, 'cat /data/hooks').trim().split('\n');
}

function events(app = 'db'): { reason: string; note: string; type: string }[] {
  return json<{ items: any[] }>([
    '-n',
    NS,
    'get',
    'events.events.k8s.io',
    '--field-selector',
    `regarding.name=${app}`,
  ]).items.map((e) => ({ reason: e.reason, note: e.note ?? '', type: e.type }));
}

function operatorLogs(): string {
  const r = kubectlResult(['-n', OPERATOR_NS, 'logs', 'deploy/molt-operator', '--tail=30']);
  return `operator log:\n${r.stdout}${r.stderr}`;
}

async function waitApp(what: string, pred: (s: any) => boolean, timeoutMs = 120_000, app = 'db'): Promise<any> {
  return waitFor(
    what,
    () => {
      const s = status(app);
      return pred(s) ? s : undefined;
    },
    timeoutMs,
  ).catch((e: unknown) => {
    throw new Error(
      `${(e as Error).message}\nstatus: ${JSON.stringify(status(app), null, 1)}\nevents: ${JSON.stringify(events(app).slice(-12))}\n${operatorLogs()}`,
    );
  });
}

/** Applies a change to db and waits for the refusal; asserts nothing was touched. */
async function assertRefused(doc: string, reason: string, message: RegExp): Promise<void> {
  const before = { uids: uids(), gens: stsGenerations() };
  apply(doc);
  const gen = json(['-n', NS, 'get', 'apps.molt.dev', 'db']).metadata.generation;
  const s = await waitApp(
    `the refusal ${reason}`,
    (x) => x.observedGeneration === gen && condition(x, 'Progressing')?.reason === reason,
  );
  assert.match(condition(s, 'Progressing').message, message);
  assert.equal(s.phase, 'Running');
  assert.deepEqual(uids(), before.uids, 'no member was restarted');
  assert.deepEqual(stsGenerations(), before.gens, 'no StatefulSet was changed');
  assert.ok(
    events().some((e) => e.type === 'Warning' && e.reason === reason && message.test(e.note)),
    `a Warning Event ${reason}`,
  );
}

let kubeconfig = '';

before(async () => {
  kubeconfig = (await ensureCluster()).kubeconfig;
  work = mkdtempSync(join(tmpdir(), 'molt-k8s-rel-'));
  const t0 = Date.now();
  const operatorTar = buildOperatorImage(work, OPERATOR_IMAGE);
  for (const v of ['1.0.0', '2.0.0']) await imageTar(v, join(work, `app-${v}.tar`));
  loadImage(operatorTar, join(work, 'app-1.0.0.tar'), join(work, 'app-2.0.0.tar'));
  operatorInstalledByUs = await installOperator(OPERATOR_IMAGE, ['apps.molt.dev', 'releases.molt.dev']);
  kubectl(['create', 'namespace', NS]);
  process.stderr.write(`# operator built, loaded and running in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
});

after(() => {
  kubectlResult(['-n', NS, 'delete', 'apps.molt.dev', '--all', '--timeout=60s']);
  kubectlResult(['delete', 'namespace', NS, '--wait=false']);
  kubectlResult([
    'delete',
    'releases.molt.dev',
    ...['1', '2', '3', 'tiny-1', 'tiny-2', 'wide-1', 'wide-2', 'wide-3'].map(rel),
    '--ignore-not-found',
    '--wait=false',
  ]);
  removeOperatorIfLast(operatorInstalledByUs);
  if (work) rmSync(work, { recursive: true, force: true });
  stopClusterIfStarted();
});

const blobs: Record<string, string> = {};

test('an App of two roles (2 + 2 members) installs as one OnDelete StatefulSet per role with claims', async () => {
  apply(release(1, '1.0.0', `${IMAGE}:1.0.0`));
  apply(appDoc('db', rel(1)));
  const s = await waitApp(
    'db Running',
    (x) => x.phase === 'Running' && x.state === 'configured' && condition(x, 'Ready')?.status === 'True',
  );
  assert.equal(s.release, rel(1));
  assert.deepEqual(
    s.roles.map((r: any) => [r.name, r.members.map((m: any) => m.name)]),
    [
      ['primary', ['db-primary-0', 'db-primary-1']],
      ['replica', ['db-replica-0', 'db-replica-1']],
    ],
  );
  for (const role of ['primary', 'replica']) {
    const sts = json(['-n', NS, 'get', 'statefulset', `db-${role}`]);
    assert.equal(sts.spec.updateStrategy.type, 'OnDelete');
    assert.equal(sts.spec.replicas, 2);
    assert.equal(sts.spec.template.metadata.labels['molt.dev/release'], rel(1));
  }
  for (const p of PODS) {
    assert.equal(json(['-n', NS, 'get', 'pvc', `data-${p}`]).status.phase, 'Bound');
    blobs[p] =
      exec(p, 'dd if=/dev/urandom of=/data/blob bs=1024 count=64 2>/dev/null; sync; md5sum /data/blob').split(' ')[0] ??
      '';
  }
  assert.equal(exec('db-replica-1', 'cat /data/events').trim(), `start 1.0.0 db-replica-1 replica 1`);
});

test('refusals touch nothing: release + member change in one edit; a release not marked upgradable', async () => {
  apply(release(2, '2.0.0', `${IMAGE}:2.0.0`, true));
  await assertRefused(appDoc('db', rel(2), 2, 3), 'ChangeRefused', /spec\.release changes together with other fields/);
  await assertRefused(appDoc('db', rel(2)), 'ChangeRefused', /not marked upgradable/);
});

test('marking the release upgradable starts the rollout: per role 1 then 0, roles overlapping, hooks, bytes intact', async (tc) => {
  const before = uids();
  const t0 = Date.now();
  apply(release(1, '1.0.0', `${IMAGE}:1.0.0`, true));
  const s = await waitApp('the rollout to 2', (x) => x.lastUpgrade?.to === rel(2) && !x.upgrade, 180_000);
  assert.equal(s.lastUpgrade.outcome, 'Succeeded', JSON.stringify(s.lastUpgrade));
  assert.equal(s.release, rel(2));
  assert.equal(s.state, 'configured');
  assert.deepEqual(
    images(),
    PODS.map(() => `${IMAGE}:2.0.0`),
  );
  const after = uids();
  for (const p of PODS) assert.notEqual(after[p], before[p], `${p} was replaced`);
  const t = (role: string, ordinal: number, key: string) =>
    Date.parse(s.roles.find((r: any) => r.name === role).members[ordinal][key]);
  for (const role of ['primary', 'replica']) {
    assert.deepEqual(
      s.roles.find((r: any) => r.name === role).members.map((m: any) => m.upgradeStatus),
      ['upgraded', 'upgraded'],
    );
    assert.ok(
      t(role, 1, 'restartedAt') < t(role, 1, 'upgradedAt') &&
        t(role, 1, 'upgradedAt') <= t(role, 0, 'restartedAt') &&
        t(role, 0, 'restartedAt') < t(role, 0, 'upgradedAt'),
      `${role}: member 1 then member 0`,
    );
  }
  const member = (role: string, o: number) =>
    `${role}-${o} ${((t(role, o, 'upgradedAt') - t(role, o, 'restartedAt')) / 1000).toFixed(1)} s`;
  tc.diagnostic(
    `started ${((Date.parse(s.lastUpgrade.startedAt) - t0) / 1000).toFixed(1)} s after the Release was marked upgradable; rollout ${((Date.parse(s.lastUpgrade.finishedAt) - Date.parse(s.lastUpgrade.startedAt)) / 1000).toFixed(1)} s; restart → upgraded: ${['primary', 'replica'].flatMap((r) => [member(r, 1), member(r, 0)]).join(', ')}`,
  );
  assert.ok(
    t('primary', 1, 'restartedAt') < t('replica', 0, 'upgradedAt') &&
      t('replica', 1, 'restartedAt') < t('primary', 0, 'upgradedAt'),
    'the roles overlap',
  );
  for (const p of PODS) {
    assert.equal(exec(p, 'md5sum /data/blob').split(' ')[0], blobs[p], `${p} keeps its bytes`);
    assert.deepEqual(hookLines(p), [
      `--pod_upgraded 2.0.0 ${p}`,
      `--role_upgraded 2.0.0 ${p}`,
      `--cluster_upgraded 2.0.0 ${p}`,
    ]);
  }
  const tpl = json(['-n', NS, 'get', 'statefulset', 'db-primary']).spec.template;
  assert.equal(tpl.spec.containers[0].startupProbe.failureThreshold, 20, 'the raised budget is restored');
  const reasons = events().map((e) => e.reason);
  for (const r of ['UpgradeStarted', 'MemberRestarted', 'MemberUpgraded', 'RoleUpgraded', 'Upgraded'])
    assert.ok(reasons.includes(r), `no ${r} in ${reasons}`);
});

test('a release with a missing image is rolled back automatically: exactly the touched members, with Events and a condition', async () => {
  const before = uids();
  apply(release(3, '3.0.0', `${IMAGE}:3.0.0-missing`, true));
  apply(appDoc('db', rel(3)));
  const s = await waitApp(
    'the rollback',
    (x) => x.lastUpgrade?.to === rel(3) && !x.upgrade && condition(x, 'Ready')?.status === 'True',
    180_000,
  );
  assert.equal(s.lastUpgrade.outcome, 'RolledBack');
  assert.equal(s.lastUpgrade.reason, 'ImagePullFailed');
  assert.equal(condition(s, 'Progressing').reason, 'RolledBack');
  assert.equal(s.release, rel(2));
  assert.deepEqual(
    images(),
    PODS.map(() => `${IMAGE}:2.0.0`),
  );
  const now = uids();
  for (const p of ['db-primary-0', 'db-replica-0']) assert.equal(now[p], before[p], `${p} was never touched`);
  for (const p of ['db-primary-1', 'db-replica-1']) {
    assert.notEqual(now[p], before[p], `${p} was touched and reverted`);
    assert.equal(exec(p, 'md5sum /data/blob').split(' ')[0], blobs[p]);
    assert.deepEqual(hookLines(p).slice(3), [
      `--pod_reverted 2.0.0 ${p}`,
      `--role_reverted 2.0.0 ${p}`,
      `--cluster_reverted 2.0.0 ${p}`,
    ]);
  }
  assert.deepEqual(
    s.roles.map((r: any) => r.members.map((m: any) => m.upgradeStatus)),
    [
      ['', 'rolledBack'],
      ['', 'rolledBack'],
    ],
  );
  const warnings = events()
    .filter((e) => e.type === 'Warning')
    .map((e) => e.reason);
  assert.ok(warnings.includes('RollingBack') && warnings.includes('RolledBack'), `warnings: ${warnings}`);
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual(uids(), now, 'a rolled-back release is not retried');
});

test('a downgrade and an upgrade from a sealed release (upgradable: false) are refused', async () => {
  await assertRefused(appDoc('db', rel(1)), 'DowngradeRefused', /is not newer than/);
  apply(release('tiny-1', '1.0.0', `${IMAGE}:1.0.0`, false).replace(/    - name: replica[\s\S]*$/, ''));
  apply(release('tiny-2', '2.0.0', `${IMAGE}:2.0.0`).replace(/    - name: replica[\s\S]*$/, ''));
  apply(appDoc('tiny', rel('tiny-1')).replace(', {name: replica, members: 2}', '').replace('members: 2', 'members: 1'));
  await waitApp(
    'tiny Running',
    (x) => x.phase === 'Running' && condition(x, 'Ready')?.status === 'True',
    120_000,
    'tiny',
  );
  const uid = json(['-n', NS, 'get', 'pod', 'tiny-primary-0']).metadata.uid;
  apply(appDoc('tiny', rel('tiny-2')).replace(', {name: replica, members: 2}', '').replace('members: 2', 'members: 1'));
  const s = await waitApp(
    'the sealed refusal',
    (x) => condition(x, 'Progressing')?.reason === 'ChangeRefused',
    60_000,
    'tiny',
  );
  assert.match(condition(s, 'Progressing').message, /sealed \(upgradable: false\)/);
  assert.equal(json(['-n', NS, 'get', 'pod', 'tiny-primary-0']).metadata.uid, uid);
  assert.ok(events('tiny').some((e) => e.type === 'Warning' && /sealed/.test(e.note)));
});

/** A one-role release (primary only) for the wide app. */
const oneRole = (n: string, version: string) =>
  release(n, version, `${IMAGE}:${version}`, true).replace(/    - name: replica[\s\S]*$/, '');
function wideDoc(releaseName: string): string {
  return `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: wide, namespace: ${NS}}
spec:
  release: ${releaseName}
  roles: [{name: primary, members: 3}]
  upgradeStrategy: {maxUnavailable: 2}
`;
}

function molt(...args: string[]): { status: number; stdout: string; stderr: string } {
  return spawnSyncWithin(
    join(ROOT, 'bin/molt'),
    ['--kubeconfig', kubeconfig, '-n', NS, ...args],
    moltLimitMs(args),
    120_000,
  );
}

test('maxUnavailable 2: two members restart at once (highest first), the third when one of them is done', async () => {
  apply(oneRole('wide-1', '1.0.0'));
  apply(wideDoc(rel('wide-1')));
  await waitApp(
    'wide Running',
    (x) => x.phase === 'Running' && condition(x, 'Ready')?.status === 'True',
    120_000,
    'wide',
  );
  apply(oneRole('wide-2', '2.0.0'));
  apply(wideDoc(rel('wide-2')));
  const s = await waitApp(
    'the rollout of wide',
    (x) => x.lastUpgrade?.to === rel('wide-2') && !x.upgrade,
    180_000,
    'wide',
  );
  assert.equal(s.lastUpgrade.outcome, 'Succeeded');
  const t = (o: number, key: string) => Date.parse(s.roles[0].members[o][key]);
  assert.ok(t(1, 'restartedAt') < t(2, 'upgradedAt'), 'member 1 restarted while member 2 was still in flight');
  assert.ok(
    t(0, 'restartedAt') >= Math.min(t(2, 'upgradedAt'), t(1, 'upgradedAt')),
    'member 0 waited until one of them was done',
  );
  assert.ok(
    t(2, 'restartedAt') <= t(1, 'restartedAt') && t(1, 'restartedAt') <= t(0, 'restartedAt'),
    'highest ordinal first',
  );
  for (let o = 0; o < 3; o++)
    assert.deepEqual(
      hookLines(`wide-primary-${o}`),
      ['--pod_upgraded', '--role_upgraded', '--cluster_upgraded'].map((f) => `${f} 2.0.0 wide-primary-${o}`),
    );
});

test('molt pause (cluster) holds the next rollout before its first member; molt resume lets it run', async () => {
  const paused = molt('pause', 'wide');
  assert.equal(paused.status, 0, paused.stderr);
  assert.match(paused.stdout, /app\/wide pause requested/);
  const before = uids();
  const wideUids = Object.fromEntries(
    json<{ items: any[] }>(['-n', NS, 'get', 'pods', '-l', 'molt.dev/app=wide']).items.map((p) => [
      p.metadata.name,
      p.metadata.uid,
    ]),
  );
  apply(oneRole('wide-3', '3.0.0').replace(`${IMAGE}:3.0.0`, `${IMAGE}:2.0.0`));
  apply(wideDoc(rel('wide-3')));
  const s = await waitApp('wide Paused', (x) => x.phase === 'Paused', 60_000, 'wide');
  assert.equal(condition(s, 'Progressing').reason, 'Paused');
  assert.match(condition(s, 'Progressing').message, /PauseRequested/);
  const now = Object.fromEntries(
    json<{ items: any[] }>(['-n', NS, 'get', 'pods', '-l', 'molt.dev/app=wide']).items.map((p) => [
      p.metadata.name,
      p.metadata.uid,
    ]),
  );
  assert.deepEqual(now, wideUids, 'no member was touched while paused');
  const resumed = molt('resume', 'wide');
  assert.equal(resumed.status, 0, resumed.stderr);
  const done = await waitApp(
    'the rollout of wide after resume',
    (x) => x.lastUpgrade?.to === rel('wide-3') && !x.upgrade && x.phase === 'Running',
    180_000,
    'wide',
  );
  assert.equal(done.lastUpgrade.outcome, 'Succeeded');
  assert.equal(json(['-n', NS, 'get', 'apps.molt.dev', 'wide']).metadata.annotations?.['molt.dev/paused'], undefined);
  assert.deepEqual(uids(), before, 'db was not touched');
});
