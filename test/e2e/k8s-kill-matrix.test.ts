// End to end, issue #8 on Kubernetes: the operator SIGKILLed at every step boundary of every
// upgrade path, then restarted, must still end with the app fully on one side. Each run has
// its own namespace and its own local operator process (`--instance`, so the shared in-cluster
// operator never touches its App) started with MOLT_TEST_HOOKS=1 MOLT_TEST_KILL_AT=<point>;
// when it dies it is started again without the kill. The matrix comes from the operator's own
// lists of acting steps (app/decide.ts ACTING_STEPS, release/steps.ts ACTING_ROLE_ACTIONS and
// ACTING_PASS_STEPS): one reference run per path (no kill) tells which points the path
// reaches, then every reached point is killed once. Invariants after each run: the App is
// fully on the expected side (every pod), its volumes keep their bytes, no ExecPod is left,
// every script and hook ran exactly once (their logs are on the volume), no journal is left
// and the status says Running with nothing in flight. An inline app's rollback puts back the
// copy of its volume taken before the upgrade (copy Jobs of the operator's image, built and
// loaded here): the volume holds exactly what it held before, and what the failed version
// wrote (its script logs included) is in the displaced copy, each line once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import tar from 'tar-stream';
import { execInPod, KubeClient, ResourceApi, RESOURCES, type KubeObject } from '../../src/engines/kubernetes/index.ts';
import { ACTING_STEPS } from '../../src/operator/app/decide.ts';
import { appKillPoint } from '../../src/operator/app/reconciler.ts';
import { ACTING_PASS_STEPS, ACTING_ROLE_ACTIONS, releaseKillPoint } from '../../src/operator/release/steps.ts';
import { INSTANCE_LABEL } from '../../src/operator/runtime/instance.ts';
import { rootfsTar } from '../images/build.ts';
import { apply, ensureCluster, kubectl, loadImage, stopClusterIfStarted } from '../k8s/cluster.ts';
import { buildOperatorImage } from '../k8s/operator.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = join(ROOT, 'node_modules/node/bin/node');
const RUN = randomBytes(3).toString('hex');
const IMAGE = 'localhost/molt-e2e-km';
/** molt's own image, for the volume copy Jobs of the local operators (MOLT_WORKER_IMAGE). */
const MOLT_IMAGE = `localhost/molt-operator:e2e-km-${RUN}`;
const PARALLEL = Number(process.env['MOLT_KILL_MATRIX_PARALLEL'] ?? 4);
const NAMESPACES = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false } as const;
let work: string;
let kubeconfig: string;
let api: ResourceApi;
let client: KubeClient;

/**
 * Acting kinds no path of this file drives, listed so coverage cannot shrink unnoticed (a
 * listed kind that IS reached fails the test too): Converge (the spec changes while the app
 * installs), Record (a change that leaves the pods as they are), ClearRollbackTo (`molt
 * rollback` on a cluster) and Cleanup (stray ExecPods of an earlier upgrade: the upgrade's own
 * end removes its ExecPods, so none of these paths leaves one behind).
 */
/* PruneSnapshots needs more upgrades than keepSnapshots (≥ 1) keeps: a second upgrade in a path
 * would double its runs; decide.test.ts and k8s-registry.test.ts drive it (the release app's:
 * release/copy-steps.test.ts). */
const NOT_DRIVEN = new Set([
  'op.app.Converge',
  'op.app.Record',
  'op.app.ClearRollbackTo',
  'op.app.Cleanup',
  'op.app.PruneSnapshots',
  'op.release.PruneSnapshots',
]);

const START = `#!/bin/sh
if [ -e /.molt/upgrade ]; then while [ ! -e /.molt/upgrade-done ]; do sleep 0.2; done; fi
touch /tmp/ready
trap 'exit 0' TERM
while true; do sleep 1; done
`;
const LOG = (what: string) => `#!/bin/sh\necho "${what} $* $(cat /app/VERSION) $(hostname)" >> /data/log\n`;
const FILES = {
  '/app/start.sh': START,
  '/app/pre.sh': LOG('pre'),
  '/app/post.sh': LOG('post'),
  '/app/hook.sh': LOG('hook'),
  '/app/post-fail.sh': `${LOG('post-fail')}echo half-migrated > /data/migrated\nexit 3\n`,
  '/app/hook-slow.sh': `${LOG('begin')}sleep 3\n${LOG('hook').replace('#!/bin/sh\n', '')}`,
};

async function imageTar(version: string, file: string): Promise<void> {
  const entries = Object.fromEntries(Object.entries(FILES).map(([p, content]) => [p, { content, mode: 0o755 }]));
  const layer = await rootfsTar({ '/app/VERSION': version, ...entries, '/data/.keep': '' });
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: { Env: ['PATH=/bin:/usr/bin'], Entrypoint: ['/bin/sh', '/app/start.sh'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] },
  });
  const pack = tar.pack();
  pack.entry({ name: `${sha(layer)}/layer.tar` }, layer);
  pack.entry({ name: `${sha(config)}.json` }, config);
  pack.entry(
    { name: 'manifest.json' },
    JSON.stringify([
      { Config: `${sha(config)}.json`, RepoTags: [`${IMAGE}:${version}`], Layers: [`${sha(layer)}/layer.tar`] },
    ]),
  );
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  writeFileSync(file, Buffer.concat(chunks));
}

// ---- one run: a namespace, an instance, a local operator that may be killed once ----

interface Run {
  id: string;
  ns: string;
  instance: string;
  killAt: string | undefined;
  op: LocalOperator;
}

/** A local operator process of one run; restarted without the kill after it was SIGKILLed. */
class LocalOperator {
  private proc: ChildProcess | undefined;
  private stopping = false;
  /** Every boundary passed, in order (the reference run's path through the state machine). */
  readonly sequence: string[] = [];
  kills = 0;
  log = '';
  failure: string | undefined;

  private readonly run: { ns: string; instance: string };

  constructor(run: { ns: string; instance: string }) {
    this.run = run;
  }

  private killing = false;

  /** SIGKILLs the operator now (as a crash would); it is started again at once. */
  killNow(): void {
    this.killing = true;
    this.proc?.kill('SIGKILL');
  }

  start(killAt: string | undefined): void {
    const args = [
      '--disable-warning=ExperimentalWarning',
      join(ROOT, 'src/operator/main.ts'),
      '--kubeconfig',
      kubeconfig,
      '--instance',
      this.run.instance,
      '--identity',
      this.run.instance,
      '--lease-namespace',
      this.run.ns,
      '--health-address',
      '127.0.0.1:0',
      '--workers',
      '2',
    ];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      MOLT_TEST_HOOKS: '1',
      MOLT_WORKER_IMAGE: MOLT_IMAGE,
      NODE_COMPILE_CACHE: join(tmpdir(), 'molt-km-compile-cache'),
      ...(killAt ? { MOLT_TEST_KILL_AT: killAt } : {}),
    };
    delete env['NODE_TEST_CONTEXT'];
    const proc = spawn(NODE, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    let rest = '';
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^\{"killpoint":"([^"]+)"\}$/.exec(l);
        if (m) this.sequence.push(m[1] as string);
        else this.log = (this.log + l + '\n').slice(-6000);
      }
    });
    proc.on('exit', (code, signal) => {
      if (this.stopping) return;
      if (signal === 'SIGKILL' && (killAt || this.killing)) {
        this.killing = false;
        this.kills++;
        this.start(undefined);
      } else this.failure = `the operator exited unexpectedly (code ${code}, signal ${signal})`;
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL'); // nothing to hand over: the run's namespace, lease included, goes next
    await exited;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(r: Run, what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    if (r.op.failure) throw new Error(`${r.id}: ${r.op.failure}\n${r.op.log}`);
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const app = await api.get<KubeObject & { status?: unknown }>(RESOURCES.apps, r.ns, 'a').catch(() => undefined);
      throw new Error(
        `${r.id}: timed out waiting for ${what}${last ? ` (${String(last)})` : ''}\nstatus: ${JSON.stringify(app?.status)}\noperator log:\n${r.op.log}`,
      );
    }
    await sleep(400);
  }
}

async function sh(r: Run, pod: string, cmd: string): Promise<string> {
  const res = await execInPod(client, r.ns, pod, 'main', ['sh', '-c', cmd]);
  if (res.exitCode !== 0) throw new Error(`${pod}: ${cmd}: exit ${res.exitCode}: ${res.stderr}`);
  return res.stdout.toString('utf8');
}

async function status(r: Run): Promise<any> {
  return ((await api.get<KubeObject & { status?: any }>(RESOURCES.apps, r.ns, 'a'))?.status ?? {}) as any;
}

async function applyApp(
  r: Run,
  spec: Record<string, unknown>,
  annotations?: Record<string, string | null>,
): Promise<void> {
  await api.apply(RESOURCES.apps, r.ns, {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: {
      name: 'a',
      namespace: r.ns,
      labels: { [INSTANCE_LABEL]: r.instance },
      ...(annotations ? { annotations } : {}),
    },
    spec,
  } as KubeObject);
}

async function pods(r: Run): Promise<any[]> {
  return (await api.list<any>(RESOURCES.pods, r.ns, {})).items;
}

/** Writes a random blob into every member's volume; its md5 by pod. */
async function writeBlobs(r: Run, names: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const p of names)
    out[p] =
      (await sh(r, p, 'dd if=/dev/urandom of=/data/blob bs=1024 count=32 2>/dev/null; sync; md5sum /data/blob')).split(
        ' ',
      )[0] ?? '';
  return out;
}

async function assertBlobs(r: Run, blobs: Record<string, string>): Promise<void> {
  for (const [p, md5] of Object.entries(blobs))
    assert.equal((await sh(r, p, 'md5sum /data/blob')).split(' ')[0], md5, `${r.id}: ${p} keeps its bytes`);
}

async function logLines(r: Run, pod: string): Promise<string[]> {
  return (await sh(r, pod, 'cat /data/log 2>/dev/null || true')).trim().split('\n').filter(Boolean);
}

function assertOnce(r: Run, lines: string[], expected: string[], where: string): void {
  assert.deepEqual(
    [...lines].sort(),
    [...expected].sort(),
    `${r.id}: ${where}: each script/hook exactly once (log: ${JSON.stringify(lines)})`,
  );
}

async function assertSettled(r: Run, journalAnnotation: string): Promise<void> {
  const s = await status(r);
  assert.equal(s.phase, 'Running', `${r.id}: phase`);
  assert.equal(s.upgrade, undefined, `${r.id}: nothing in flight`);
  for (const sts of (await api.list<any>(RESOURCES.statefulsets, r.ns, {})).items)
    assert.equal(
      sts.metadata.annotations?.[journalAnnotation],
      undefined,
      `${r.id}: no journal left on ${sts.metadata.name}`,
    );
  const exec = (await pods(r)).filter((p) => p.metadata.labels?.['molt.dev/component'] === 'exec-pod');
  assert.deepEqual(
    exec.map((p) => p.metadata.name),
    [],
    `${r.id}: no ExecPod left`,
  );
  const jobs = (await api.list<any>(RESOURCES.jobs, r.ns, {})).items.filter((j) => !j.metadata.deletionTimestamp);
  assert.deepEqual(
    jobs.map((j) => j.metadata.name),
    [],
    `${r.id}: no copy Job left`,
  );
}

/** The lines of the log the failed version wrote, read from the copy a restore kept aside (`…-displaced`). */
async function displacedLog(r: Run): Promise<string[]> {
  const claims = (await api.list<any>(RESOURCES.pvcs, r.ns, { labelSelector: 'molt.dev/copy=displaced' })).items;
  assert.equal(claims.length, 1, `${r.id}: one displaced copy (${claims.map((c) => c.metadata.name).join(', ')})`);
  const claim = claims[0].metadata.name as string;
  await api.create(RESOURCES.pods, r.ns, {
    metadata: { name: 'reader' },
    spec: {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image: `${IMAGE}:1.0.0`,
          imagePullPolicy: 'Never',
          command: ['sh', '-c', 'tar -xOf /d/data.displaced.tar ./log'],
          volumeMounts: [{ name: 'd', mountPath: '/d' }],
        },
      ],
      volumes: [{ name: 'd', persistentVolumeClaim: { claimName: claim } }],
    },
  } as KubeObject);
  await until(r, 'the reader pod', async () => {
    const p = await api.get<any>(RESOURCES.pods, r.ns, 'reader');
    if (p?.status?.phase === 'Failed') throw new Error(`reader failed: ${kubectl(['-n', r.ns, 'logs', 'reader'])}`);
    return p?.status?.phase === 'Succeeded' ? true : undefined;
  });
  return kubectl(['-n', r.ns, 'logs', 'reader']).trim().split('\n').filter(Boolean);
}

/** After a rollback: the volume is as before the upgrade (the failed version's writes are gone), which the displaced copy keeps. */
async function assertRestored(r: Run, blobs: Record<string, string>, displaced: string[]): Promise<void> {
  await assertBlobs(r, blobs);
  assertOnce(r, await logLines(r, 'a-0'), [], 'a-0 (restored: the log as it was before the upgrade)');
  assert.equal(
    (await sh(r, 'a-0', 'ls /data')).trim().split('\n').sort().join(' '),
    'blob',
    `${r.id}: nothing the upgrade wrote is left on the volume`,
  );
  assertOnce(r, await displacedLog(r), displaced, 'the displaced copy');
}

// ---- the paths ----

interface Path {
  name: string;
  /** Drives the app through the path and asserts the invariants at its end. */
  drive(r: Run): Promise<void>;
}

const releaseName = (r: Run, n: string) => `km-${r.instance}-${n}`;

async function applyRelease(
  r: Run,
  n: string,
  version: string,
  image: string,
  lifecycle = '/app/hook.sh',
): Promise<void> {
  const role = {
    name: 'db',
    image: `${IMAGE}:${image}`,
    lifecycle,
    volumes: [{ name: 'data', mountPath: '/data' }],
    probes: { startup: { exec: ['cat', '/tmp/ready'], periodSeconds: 1, failureThreshold: 20 } },
    minReadySeconds: 0,
    stopTimeoutSeconds: 1,
  };
  await api.apply(RESOURCES.releases, undefined, {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'Release',
    metadata: { name: releaseName(r, n) },
    spec: { package: 'official/km', version, upgradable: true, roles: [role] },
  } as KubeObject);
}

const RELEASE_PODS = ['a-db-0', 'a-db-1'];

async function installRelease(r: Run, extra: Record<string, unknown> = {}): Promise<Record<string, string>> {
  await applyRelease(r, '1', '1.0.0', '1.0.0');
  await applyApp(r, { release: releaseName(r, '1'), roles: [{ name: 'db', members: 2 }], ...extra });
  await until(r, 'installed', async () => {
    const s = await status(r);
    return s.phase === 'Running' && s.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True'
      ? true
      : undefined;
  });
  return writeBlobs(r, RELEASE_PODS);
}

async function releasePodsOn(r: Run, rel: string, image: string): Promise<void> {
  const ps = (await pods(r)).filter((p) => p.metadata.labels?.['molt.dev/role'] === 'db');
  assert.deepEqual(
    ps.map((p) => [p.metadata.name, p.metadata.labels['molt.dev/release'], p.spec.containers[0].image]).sort(),
    RELEASE_PODS.map((n) => [n, rel, `${IMAGE}:${image}`]),
    `${r.id}: every pod on ${rel}`,
  );
}

const releaseUpgrade: Path = {
  name: 'release-upgrade',
  async drive(r) {
    const blobs = await installRelease(r);
    await applyRelease(r, '2', '2.0.0', '2.0.0');
    await applyApp(r, { release: releaseName(r, '2'), roles: [{ name: 'db', members: 2 }] });
    const s = await until(r, 'the rollout', async () => {
      const x = await status(r);
      return x.lastUpgrade?.to === releaseName(r, '2') && !x.upgrade && x.phase === 'Running' ? x : undefined;
    });
    assert.equal(s.lastUpgrade.outcome, 'Succeeded', `${r.id}: ${JSON.stringify(s.lastUpgrade)}`);
    await releasePodsOn(r, releaseName(r, '2'), '2.0.0');
    await assertBlobs(r, blobs);
    for (const p of RELEASE_PODS)
      assertOnce(
        r,
        await logLines(r, p),
        ['--pod_upgraded', '--role_upgraded', '--cluster_upgraded'].map((f) => `hook ${f} 2.0.0 ${p}`),
        p,
      );
    await assertSettled(r, 'molt.dev/rollout');
  },
};

const releaseRollback: Path = {
  name: 'release-rollback',
  async drive(r) {
    const blobs = await installRelease(r);
    await applyRelease(r, '3', '3.0.0', '3.0.0-missing');
    await applyApp(r, { release: releaseName(r, '3'), roles: [{ name: 'db', members: 2 }] });
    const s = await until(r, 'the rollback', async () => {
      const x = await status(r);
      return x.lastUpgrade?.to === releaseName(r, '3') &&
        !x.upgrade &&
        x.phase === 'Running' &&
        x.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True'
        ? x
        : undefined;
    });
    assert.equal(s.lastUpgrade.outcome, 'RolledBack', `${r.id}: ${JSON.stringify(s.lastUpgrade)}`);
    await releasePodsOn(r, releaseName(r, '1'), '1.0.0');
    await assertBlobs(r, blobs);
    // Only a-db-1 was touched (one at a time; it failed): it alone gets --pod_reverted.
    for (const p of RELEASE_PODS) {
      const flags = [...(p === 'a-db-1' ? ['--pod_reverted'] : []), '--role_reverted', '--cluster_reverted'];
      assertOnce(
        r,
        await logLines(r, p),
        flags.map((f) => `hook ${f} 1.0.0 ${p}`),
        p,
      );
    }
    await assertSettled(r, 'molt.dev/rollout');
  },
};

/** onFailure: pause: the failed member pauses the rollout; resume retries it (it fails and pauses again); spec.release back rolls back. */
const releasePause: Path = {
  name: 'release-pause',
  async drive(r) {
    const pause = { upgradeStrategy: { onFailure: 'pause' } };
    const blobs = await installRelease(r, pause);
    await applyRelease(r, '3', '3.0.0', '3.0.0-missing');
    await applyApp(r, { release: releaseName(r, '3'), roles: [{ name: 'db', members: 2 }], ...pause });
    const paused = async () =>
      until(r, 'paused', async () => {
        const x = await status(r);
        return x.phase === 'Paused' && x.conditions?.find((c: any) => c.type === 'Progressing')?.reason === 'Paused'
          ? x
          : undefined;
      });
    const first = await paused();
    assert.match(first.upgrade.cause, /ImagePullFailed/, `${r.id}: the cause`);
    const failedUid = (await pods(r)).find((p) => p.metadata.name === 'a-db-1')?.metadata.uid;
    const resumedAt = new Date().toISOString();
    await api.mergePatch(RESOURCES.apps, r.ns, 'a', { metadata: { annotations: { 'molt.dev/paused': null } } });
    await until(r, 'the retry', async () =>
      (await pods(r)).find((p) => p.metadata.name === 'a-db-1')?.metadata.uid !== failedUid ? true : undefined,
    );
    // The retried member fails again: paused anew (the journal's pause is newer than the resume).
    await until(r, 'paused again', async () => {
      const sts = await api.get<KubeObject>(RESOURCES.statefulsets, r.ns, 'a-db');
      const j = JSON.parse(sts?.metadata.annotations?.['molt.dev/rollout'] ?? '{}') as { paused?: { at: string } };
      return j.paused && j.paused.at > resumedAt ? true : undefined;
    });
    await paused();
    await applyApp(r, { release: releaseName(r, '1'), roles: [{ name: 'db', members: 2 }], ...pause });
    const s = await until(r, 'the rollback', async () => {
      const x = await status(r);
      return x.lastUpgrade?.outcome === 'RolledBack' &&
        !x.upgrade &&
        x.phase === 'Running' &&
        x.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True'
        ? x
        : undefined;
    });
    assert.equal(s.release, releaseName(r, '1'));
    await releasePodsOn(r, releaseName(r, '1'), '1.0.0');
    await assertBlobs(r, blobs);
    const app = await api.get<KubeObject>(RESOURCES.apps, r.ns, 'a');
    assert.equal(app?.metadata.annotations?.['molt.dev/paused'], undefined, `${r.id}: the pause ends with the rollout`);
    await assertSettled(r, 'molt.dev/rollout');
  },
};

function inlineSpec(version: string, post: string | null = '/app/post.sh'): Record<string, unknown> {
  return {
    package: 'official/km',
    version,
    image: `${IMAGE}:${version}`,
    volumes: [{ name: 'data', mountPath: '/data' }],
    probes: { startup: { exec: ['cat', '/tmp/ready'], periodSeconds: 1, failureThreshold: 20 } },
    stopTimeoutSeconds: 1,
    upgrade: { preUpgrade: '/app/pre.sh', ...(post ? { postUpgrade: post } : {}) },
  };
}

async function installInline(r: Run): Promise<Record<string, string>> {
  await applyApp(r, inlineSpec('1.0.0'));
  await until(r, 'installed', async () =>
    (await status(r)).phase === 'Running' && (await status(r)).installedVersion === '1.0.0' ? true : undefined,
  );
  return writeBlobs(r, ['a-0']);
}

async function inlineOn(r: Run, version: string): Promise<void> {
  const ps = (await pods(r)).filter((p) => p.metadata.labels?.['molt.dev/component'] === 'member');
  assert.deepEqual(
    ps.map((p) => [p.metadata.name, p.spec.containers[0].image]),
    [['a-0', `${IMAGE}:${version}`]],
    `${r.id}: the member on ${version}`,
  );
}

const inlineUpgrade: Path = {
  name: 'app-upgrade',
  async drive(r) {
    const blobs = await installInline(r);
    await applyApp(r, inlineSpec('2.0.0'));
    const s = await until(r, 'the upgrade', async () => {
      const x = await status(r);
      return x.lastUpgrade?.to === '2.0.0' && !x.upgrade && x.phase === 'Running' ? x : undefined;
    });
    assert.equal(s.lastUpgrade.outcome, 'Succeeded', `${r.id}: ${JSON.stringify(s.lastUpgrade)}`);
    await inlineOn(r, '2.0.0');
    await assertBlobs(r, blobs);
    assertOnce(r, await logLines(r, 'a-0'), ['pre 1.0.0 2.0.0 1.0.0 a-0', 'post 1.0.0 2.0.0 2.0.0 a-0'], 'a-0');
    await until(
      r,
      'the ExecPods cleaned up',
      async () =>
        (await pods(r)).some((p) => p.metadata.labels?.['molt.dev/component'] === 'exec-pod') ? undefined : true,
      60_000,
    );
    await assertSettled(r, 'molt.dev/upgrade');
    // The App deleted: the finalizer goes, so does the App.
    await api.delete(RESOURCES.apps, r.ns, 'a');
    await until(
      r,
      'the App deleted',
      async () => ((await api.get(RESOURCES.apps, r.ns, 'a')) ? undefined : true),
      60_000,
    );
  },
};

/**
 * The new version's container crashes: the restarted member fails, the upgrade rolls back.
 * Without a post-upgrade script, so the crash is seen by StartRollback alone (with one, the
 * operator may catch the container in its moment of running and fail in PostUpgrade instead,
 * and which of the two happens would depend on timing).
 */
const inlineRollback: Path = {
  name: 'app-rollback',
  async drive(r) {
    const blobs = await installInline(r);
    await applyApp(r, { ...inlineSpec('2.0.0', null), entrypoint: ['/bin/sh', '-c', 'echo crash; exit 3'] });
    const s = await until(r, 'the rollback', async () => {
      const x = await status(r);
      return x.lastUpgrade?.to === '2.0.0' &&
        !x.upgrade &&
        x.phase === 'Running' &&
        x.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True'
        ? x
        : undefined;
    });
    assert.equal(s.lastUpgrade.outcome, 'RolledBack', `${r.id}: ${JSON.stringify(s.lastUpgrade)}`);
    assert.equal(s.installedVersion, '1.0.0');
    await inlineOn(r, '1.0.0');
    await assertRestored(r, blobs, ['pre 1.0.0 2.0.0 1.0.0 a-0']);
    await until(
      r,
      'the ExecPods cleaned up',
      async () =>
        (await pods(r)).some((p) => p.metadata.labels?.['molt.dev/component'] === 'exec-pod') ? undefined : true,
      60_000,
    );
    await assertSettled(r, 'molt.dev/upgrade');
  },
};

/** The new version's post-upgrade script fails: the upgrade rolls back. */
const inlinePostFails: Path = {
  name: 'app-post-fails',
  async drive(r) {
    const blobs = await installInline(r);
    await applyApp(r, inlineSpec('2.0.0', '/app/post-fail.sh'));
    const s = await until(r, 'the rollback', async () => {
      const x = await status(r);
      return x.lastUpgrade?.to === '2.0.0' &&
        !x.upgrade &&
        x.phase === 'Running' &&
        x.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True'
        ? x
        : undefined;
    });
    assert.equal(s.lastUpgrade.outcome, 'RolledBack', `${r.id}: ${JSON.stringify(s.lastUpgrade)}`);
    await inlineOn(r, '1.0.0');
    // The post-upgrade script's /data/migrated is gone with the rest of what 2.0.0 wrote.
    await assertRestored(r, blobs, ['pre 1.0.0 2.0.0 1.0.0 a-0', 'post-fail 1.0.0 2.0.0 2.0.0 a-0']);
    await until(
      r,
      'the ExecPods cleaned up',
      async () =>
        (await pods(r)).some((p) => p.metadata.labels?.['molt.dev/component'] === 'exec-pod') ? undefined : true,
      60_000,
    );
    await assertSettled(r, 'molt.dev/upgrade');
  },
};

/** The new version's image is missing: its ExecPod cannot start, the upgrade is aborted before any member was touched. */
const inlineAbort: Path = {
  name: 'app-abort',
  async drive(r) {
    const blobs = await installInline(r);
    const uid = (await pods(r)).find((p) => p.metadata.name === 'a-0')?.metadata.uid;
    await applyApp(r, { ...inlineSpec('2.0.0'), image: `${IMAGE}:2.0.0-missing` });
    const s = await until(r, 'the abort', async () => {
      const x = await status(r);
      return x.lastUpgrade?.to === '2.0.0' && !x.upgrade && x.phase === 'Running' ? x : undefined;
    });
    assert.equal(s.lastUpgrade.outcome, 'Aborted', `${r.id}: ${JSON.stringify(s.lastUpgrade)}`);
    await inlineOn(r, '1.0.0');
    assert.equal(
      (await pods(r)).find((p) => p.metadata.name === 'a-0')?.metadata.uid,
      uid,
      `${r.id}: the member was never touched`,
    );
    await assertBlobs(r, blobs);
    assertOnce(r, await logLines(r, 'a-0'), [], 'a-0');
    await until(
      r,
      'the ExecPods cleaned up',
      async () =>
        (await pods(r)).some((p) => p.metadata.labels?.['molt.dev/component'] === 'exec-pod') ? undefined : true,
      60_000,
    );
    await assertSettled(r, 'molt.dev/upgrade');
  },
};

/** For debugging one corner: MOLT_KILL_MATRIX_PATHS=a,b and MOLT_KILL_MATRIX_POINTS=<regex> narrow the matrix (and skip the coverage check). */
const ONLY_PATHS = process.env['MOLT_KILL_MATRIX_PATHS']?.split(',');
const ONLY_POINTS = process.env['MOLT_KILL_MATRIX_POINTS']
  ? new RegExp(process.env['MOLT_KILL_MATRIX_POINTS'])
  : undefined;
const PATHS: Path[] = [
  releaseUpgrade,
  releaseRollback,
  releasePause,
  inlineUpgrade,
  inlineRollback,
  inlinePostFails,
  inlineAbort,
].filter((p) => !ONLY_PATHS || ONLY_PATHS.includes(p.name));

/** Every kill point the operator has: the acting kinds of its pure modules, before and after. */
function allPoints(): string[] {
  const kinds = [
    ...ACTING_STEPS.map((k) => appKillPoint(k)),
    ...[...ACTING_ROLE_ACTIONS, ...ACTING_PASS_STEPS].map((k) => releaseKillPoint(k)),
  ];
  return kinds.flatMap((k) => [`${k}:before`, `${k}:after`]);
}

let runs = 0;

/** One run in its own namespace with its own operator instance (killed at `killAt`, if given). */
async function withRun<T>(name: string, killAt: string | undefined, fn: (r: Run) => Promise<T>): Promise<T> {
  const n = ++runs;
  const instance = `${RUN}-${n}`;
  const ns = `molt-km-${instance}`;
  const r: Run = {
    id: `${name}${killAt ? ` kill ${killAt}` : ''}`,
    ns,
    instance,
    killAt,
    op: new LocalOperator({ ns, instance }),
  };
  await api.create(NAMESPACES, undefined, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ns },
  } as KubeObject);
  r.op.start(killAt);
  try {
    const out = await fn(r);
    if (r.op.failure) throw new Error(`${r.id}: ${r.op.failure}\n${r.op.log}`);
    return out;
  } finally {
    await r.op.stop();
    await api.delete(RESOURCES.apps, ns, 'a').catch(() => undefined);
    // The finalizer is the operator's: gone with it, so the namespace can go.
    await api.mergePatch(RESOURCES.apps, ns, 'a', { metadata: { finalizers: null } }).catch(() => undefined);
    await api.delete(NAMESPACES, undefined, ns).catch(() => undefined);
    for (const rel of ['1', '2', '3'])
      await api.delete(RESOURCES.releases, undefined, `km-${instance}-${rel}`).catch(() => undefined);
  }
}

/** One run of a path; the points the operator passed and how often it was killed. */
function runPath(path: Path, killAt: string | undefined): Promise<{ sequence: string[]; kills: number }> {
  return withRun(killAt ? path.name : `${path.name} (reference)`, killAt, async (r) => {
    await path.drive(r);
    if (killAt) await awaitKill(r, killAt);
    return { sequence: r.op.sequence, kills: r.op.kills };
  });
}

/**
 * The operator SIGKILLs itself right after it reports the point; a path can end first (its
 * last point: the App is gone once Delete ran), so wait for that exit before counting kills.
 */
async function awaitKill(r: Run, killAt: string): Promise<void> {
  const [point, nth = '1'] = killAt.split('@');
  const passed = () => r.op.sequence.filter((s) => s === point).length >= Number(nth);
  for (let waited = 0; passed() && r.op.kills === 0 && waited < 10_000; waited += 100) await sleep(100);
}

/** A reference sequence with repeats of one step collapsed (a step that waits, e.g. for an ExecPod, passes its boundaries again). */
function collapsed(seq: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < seq.length; i += 2) {
    const pair = seq.slice(i, i + 2);
    if (out.length >= 2 && out.at(-2) === pair[0] && out.at(-1) === pair[1]) continue;
    out.push(...pair);
  }
  return out;
}

/** `after` boundaries with a write after them (a hook's journal entry): the next `before` is another state. */
const WRITES_AFTER = new Set([`${releaseKillPoint('PodHook')}:after`, `${releaseKillPoint('RoleHook')}:after`]);

/**
 * What the cluster holds when the operator dies at boundary i of a path: the steps done so far.
 * Dying before a step is dying after the one before it (nothing is written between them but
 * the status, which every pass derives afresh), unless that one writes after its boundary.
 */
function crashState(seq: string[], i: number): string {
  const point = seq[i] as string;
  if (point.endsWith(':after')) return seq.slice(0, i + 1).join(' ');
  return seq.slice(0, i).join(' ') + (i > 0 && WRITES_AFTER.has(seq[i - 1] as string) ? ' +journaled' : '');
}

/** Steps that change the phase of a rollout: a step passed again after one of them is in another state. */
const PHASES = new Set([
  ...(['BeginUpgrade', 'StartRollback', 'FinishUpgrade', 'FinishRollback', 'Abort'] as const).map((k) =>
    appKillPoint(k),
  ),
  ...ACTING_PASS_STEPS.map((k) => releaseKillPoint(k)),
]);

/** The paths that are tried at every point they reach (issue #8: the upgrade and the rollback path of each engine). */
const PRIMARY = new Set(['release-upgrade', 'release-rollback', 'app-upgrade', 'app-rollback']);

/**
 * The kill runs. A primary path is killed at every boundary it passes — again at a later pass of
 * a step when the rollout changed phase in between (`<point>@<n>`: the template switched back
 * by a rollback, not the next member's restart) — except when an
 * earlier path passes exactly the same steps up to there (the install, the start of an
 * upgrade), or when the point is the `before` right after a scheduled `after` (crashState):
 * the operator would die in the same state, so that run would repeat one already scheduled. A step that repeats while it waits (an ExecPod starting) is killed at its first
 * pass only. The other paths add the passes no earlier path was killed at (pause, resume,
 * abort). Returns the jobs and, per path, how many passes were left to an earlier path.
 */
function schedule(
  points: string[],
  sequences: Map<string, string[]>,
): { jobs: { path: Path; point: string }[]; shared: Map<string, number> } {
  const known = new Set(points);
  const states = new Set<string>();
  const tried = new Set<string>();
  const jobs: { path: Path; point: string }[] = [];
  const shared = new Map<string, number>();
  for (const path of PATHS) {
    const raw = sequences.get(path.name) ?? [];
    const seq = collapsed(raw);
    const seen = new Map<string, number>();
    const last = new Map<string, number>();
    seq.forEach((point, i) => {
      const n = (seen.get(point) ?? 0) + 1;
      seen.set(point, n);
      const previous = last.get(point);
      last.set(point, i);
      const waits = raw.filter((p) => p === point).length !== seq.filter((p) => p === point).length;
      // A later pass counts when the rollout changed phase since the last one (the template switched back by a rollback), not for the next member.
      const newPhase =
        previous !== undefined && seq.slice(previous + 1, i).some((p) => PHASES.has(p.split(':')[0] as string));
      if (!known.has(point) || (n > 1 && (waits || !newPhase)) || (ONLY_POINTS && !ONLY_POINTS.test(point))) return;
      const killAt = n === 1 ? point : `${point}@${n}`;
      const state = crashState(seq, i);
      if (states.has(state) || (!PRIMARY.has(path.name) && tried.has(killAt)))
        shared.set(path.name, (shared.get(path.name) ?? 0) + 1);
      else jobs.push({ path, point: killAt });
      states.add(state);
      tried.add(killAt);
    });
  }
  return { jobs, shared };
}

async function pool<T>(items: T[], size: number, fn: (t: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: size }, async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) await fn(t);
    }),
  );
}

before(async () => {
  const h = await ensureCluster();
  kubeconfig = h.kubeconfig;
  client = KubeClient.load({ kubeconfig });
  api = new ResourceApi(client, 'molt-e2e');
  work = mkdtempSync(join(tmpdir(), 'molt-k8s-km-'));
  for (const v of ['1.0.0', '2.0.0']) await imageTar(v, join(work, `app-${v}.tar`));
  loadImage(join(work, 'app-1.0.0.tar'), join(work, 'app-2.0.0.tar'), buildOperatorImage(work, MOLT_IMAGE));
  // The operator's informers need every CRD it watches (UpgradeTasks too), not the operator itself.
  for (const f of ['apps.molt.dev.yaml', 'releases.molt.dev.yaml', 'upgradetasks.molt.dev.yaml'])
    apply(readFileSync(join(ROOT, 'deploy/crds', f), 'utf8'));
  kubectl([
    'wait',
    '--for=condition=Established',
    'crd/apps.molt.dev',
    'crd/releases.molt.dev',
    'crd/upgradetasks.molt.dev',
    '--timeout=60s',
  ]);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  stopClusterIfStarted();
});

test('the operator killed at every step boundary of every path, then restarted, ends fully on one side with every script and hook run once', async (tc) => {
  const t0 = Date.now();
  const sequences = new Map<string, string[]>();
  await pool(PATHS, PARALLEL, async (p) => {
    sequences.set(p.name, (await runPath(p, undefined)).sequence);
  });
  const reached = new Map([...sequences].map(([k, v]) => [k, new Set(v)]));
  for (const [k, v] of sequences) process.stderr.write(`# sequence ${k}: ${v.join(' ')}\n`);
  tc.diagnostic(`reference runs: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const points = allPoints();
  const everReached = new Set([...reached.values()].flatMap((s) => [...s]));
  const neverReached = points.filter((p) => !everReached.has(p) && !NOT_DRIVEN.has(p.split(':')[0] as string));
  const drivenAnyway = points.filter((p) => everReached.has(p) && NOT_DRIVEN.has(p.split(':')[0] as string));
  if (!ONLY_PATHS) {
    assert.deepEqual(neverReached, [], 'every kill point is reached on some path (or listed in NOT_DRIVEN)');
    assert.deepEqual(drivenAnyway, [], 'a kind listed in NOT_DRIVEN is reached now: remove it from the list');
  }
  const { jobs, shared } = schedule(points, sequences);
  process.stderr.write(
    `# ${jobs.length} kill runs, ${PARALLEL} at a time:\n${PATHS.map(
      (p) =>
        `#   ${p.name}: ${jobs
          .filter((j) => j.path === p)
          .map((j) => j.point)
          .join(' ')}`,
    ).join('\n')}\n`,
  );
  const results = new Map<string, { tried: number; passed: number; failures: string[] }>(
    PATHS.map((p) => [p.name, { tried: 0, passed: 0, failures: [] }]),
  );
  await pool(jobs, PARALLEL, async ({ path, point }) => {
    const res = results.get(path.name) as { tried: number; passed: number; failures: string[] };
    res.tried++;
    try {
      // Which branch a run takes can depend on timing (e.g. when the operator first sees the
      // new pod crash); a run that never passed the point proved nothing about it (its
      // invariants held all the same), so it is made again, at most twice.
      let run = await runPath(path, point);
      for (let again = 0; run.kills === 0 && again < 2; again++) {
        process.stderr.write(
          `# ${path.name} ${point}: this run took another branch (${run.sequence.join(' ')}); running it again\n`,
        );
        run = await runPath(path, point);
      }
      assert.equal(run.kills, 1, `${path.name} ${point}: the operator died there once`);
      res.passed++;
    } catch (e) {
      const line = `${path.name} kill ${point}: ${(e as Error).message.slice(0, 1500)}`;
      process.stderr.write(`# FAILED ${line}\n`);
      res.failures.push(line);
    }
  });
  const tried = [...results.values()].reduce((a, r) => a + r.tried, 0);
  const passed = [...results.values()].reduce((a, r) => a + r.passed, 0);
  const lines = [`operator kill points: tried ${tried}, passed ${passed} (${((Date.now() - t0) / 1000).toFixed(0)} s)`];
  for (const p of PATHS) {
    const res = results.get(p.name) as { tried: number; passed: number };
    const family = p.name.startsWith('release') ? 'op.release.' : 'op.app.';
    const notReached = points.filter((pt) => pt.startsWith(family) && !reached.get(p.name)?.has(pt)).length;
    lines.push(
      `  ${p.name}: tried ${res.tried}, passed ${res.passed}, same state as a run already made ${shared.get(p.name) ?? 0}, not reached ${notReached}`,
    );
  }
  lines.push(`  not driven by any path: ${[...NOT_DRIVEN].join(', ')}`);
  process.stderr.write(`${lines.join('\n')}\n`);
  for (const l of lines) tc.diagnostic(l);
  const failures = [...results.values()].flatMap((r) => r.failures);
  assert.equal(failures.length, 0, failures.join('\n\n'));
});

test('an operator killed while a lifecycle hook sleeps does not start it again: the new leader waits for its result', async () => {
  await withRun('slow-hooks', undefined, async (r) => {
    await applyRelease(r, '1', '1.0.0', '1.0.0', '/app/hook-slow.sh');
    await applyApp(r, { release: releaseName(r, '1'), roles: [{ name: 'db', members: 2 }] });
    await until(r, 'installed', async () =>
      (await status(r)).phase === 'Running' &&
      (await status(r)).conditions?.find((c: any) => c.type === 'Ready')?.status === 'True'
        ? true
        : undefined,
    );
    await applyRelease(r, '2', '2.0.0', '2.0.0', '/app/hook-slow.sh');
    await applyApp(r, { release: releaseName(r, '2'), roles: [{ name: 'db', members: 2 }] });
    for (const flag of ['--pod_upgraded', '--role_upgraded', '--cluster_upgraded']) {
      await until(
        r,
        `${flag} running`,
        async () => {
          for (const p of RELEASE_PODS) {
            const lines = await logLines(r, p).catch(() => []);
            if (lines.some((l) => l.startsWith(`begin ${flag} `)) && !lines.some((l) => l.startsWith(`hook ${flag} `)))
              return true;
          }
          return undefined;
        },
        90_000,
      );
      r.op.killNow();
    }
    const s = await until(r, 'the rollout', async () => {
      const x = await status(r);
      return x.lastUpgrade?.to === releaseName(r, '2') && !x.upgrade && x.phase === 'Running' ? x : undefined;
    });
    assert.equal(s.lastUpgrade.outcome, 'Succeeded');
    assert.equal(r.op.kills, 3, 'killed once in each kind of hook');
    for (const p of RELEASE_PODS) {
      const flags = ['--pod_upgraded', '--role_upgraded', '--cluster_upgraded'];
      assertOnce(
        r,
        await logLines(r, p),
        flags.flatMap((f) => [`begin ${f} 2.0.0 ${p}`, `hook ${f} 2.0.0 ${p}`]),
        p,
      );
    }
  });
});
