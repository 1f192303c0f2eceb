// End to end on the test cluster (issue 15: "for Release apps, per member, the same"): an App
// that runs a Release, one role of two members with a claim each. The new release's
// `--pod_upgraded` hook corrupts each member's data; on member 0 it also fails, so both
// touched members are rolled back. Each member's volumes were copied by a Job of molt's own
// image before its pod was replaced; going back, the members are held down, what their volumes
// held is kept aside (`…-displaced`), the copies are restored, and only then does the old
// release start: every file's bytes are as before the rollout (md5), and the displaced copy
// holds the failed release's writes. `molt snapshots` lists the copies per member. The operator
// runs as a local process of this checkout (`--instance`); its copy Jobs run this checkout's
// operator image (built and loaded here, MOLT_WORKER_IMAGE).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
import { buildOperatorImage, startLocalOperator, type LocalOperator } from '../k8s/operator.ts';
import { INSTANCE_LABEL } from '../../src/operator/runtime/instance.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MOLT = join(ROOT, 'bin/molt');
const RUN = randomBytes(3).toString('hex');
const NS = `molt-relcp-${RUN}`;
const INSTANCE = `relcp-${RUN}`;
const MOLT_IMAGE = `localhost/molt-operator:e2e-relcp-${RUN}`;
const IMAGE = `localhost/molt-e2e-relcp-${RUN}`;
const rel = (n: number) => `kv-${RUN}-${n}`;
const PODS = ['kv-db-0', 'kv-db-1'];
let kubeconfig = '';
let work = '';
let operator: LocalOperator | undefined;

const START = `#!/bin/sh
echo "start $(cat /app/VERSION) $MOLT_MEMBER" >> /data/events
touch /tmp/ready
trap 'exit 0' TERM
while true; do sleep 1; done
`;
const LIFECYCLE = '#!/bin/sh\necho "$1 $(cat /app/VERSION) $MOLT_MEMBER" >> /data/hooks\n';
/** 2.0.0's hook: a migration that rewrites the data, and fails on member 0 (after member 1 was done). */
const LIFECYCLE_CORRUPT = `${LIFECYCLE}if [ "$1" = --pod_upgraded ]; then
  echo "migrated by 2.0.0" > /data/note; echo "$MOLT_MEMBER" > /data/only-2.0.0; rm -f /data/db/key
  [ "$MOLT_ORDINAL" = 0 ] && { echo "migration failed on $MOLT_MEMBER" >&2; exit 1; }
fi
exit 0
`;

async function image(version: string, lifecycle: string): Promise<string> {
  const file = join(work, `app-${version}.tar`);
  await writeDockerArchive(
    file,
    `${IMAGE}:${version}`,
    {
      '/app/VERSION': version,
      '/app/start.sh': { content: START, mode: 0o755 },
      '/app/lifecycle.sh': { content: lifecycle, mode: 0o755 },
    },
    '/app/start.sh',
  );
  return file;
}

function release(n: number, version: string, upgrade = ''): string {
  return `apiVersion: molt.dev/v1alpha1
kind: Release
metadata: {name: ${rel(n)}}
spec:
  package: official/kv
  version: ${version}
  upgradable: true
  roles:
    - name: db
      image: ${IMAGE}:${version}
      lifecycle: /app/lifecycle.sh
      volumes: [{name: data, mountPath: /data, size: 64Mi}]
      probes: {startup: {exec: [cat, /tmp/ready], periodSeconds: 1, failureThreshold: 30}}
      minReadySeconds: 0
      stopTimeoutSeconds: 2
${upgrade ? `      upgrade: ${upgrade}\n` : ''}`;
}

function appDoc(n: number): string {
  return `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: kv, namespace: ${NS}, labels: {${INSTANCE_LABEL}: ${INSTANCE}}}
spec:
  release: ${rel(n)}
  roles: [{name: db, members: 2}]
`;
}

const status = (): any => JSON.parse(kubectl(['-n', NS, 'get', 'apps.molt.dev', 'kv', '-o', 'json'])).status ?? {};
const ready = (s: any) => s.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True';
const sh = (pod: string, script: string): string =>
  kubectl(['-n', NS, 'exec', pod, '-c', 'main', '--', 'sh', '-c', script]);

async function waitStatus(what: string, pred: (s: any) => boolean): Promise<any> {
  return waitFor(
    what,
    () => {
      const s = status();
      return pred(s) ? s : undefined;
    },
    300_000,
  ).catch((e: Error) => {
    throw new Error(
      `${e.message}\nstatus: ${JSON.stringify(status())}\noperator log:\n${operator?.log().slice(-4000)}`,
    );
  });
}

/** Every entry under /data but the logs the app and its hooks append to: name, type, mode, owner, mtime, size, link, md5. */
function volumeState(pod: string): string {
  return sh(
    pod,
    'cd /data && find . -mindepth 1 ! -name events ! -name hooks | sort | while read -r f; do ' +
      'echo "$f $(stat -c "%F %a %u:%g %Y %s" "$f") $(readlink "$f") $([ -f "$f" ] && [ ! -L "$f" ] && md5sum < "$f")"; done',
  );
}

before(async () => {
  ({ kubeconfig } = await ensureCluster());
  work = mkdtempSync(join(tmpdir(), 'molt-k8s-relcp-'));
  kubectl(['create', 'namespace', NS]);
  loadImage(
    buildOperatorImage(work, MOLT_IMAGE),
    await image('1.0.0', LIFECYCLE),
    await image('2.0.0', LIFECYCLE_CORRUPT),
    await image('3.0.0', LIFECYCLE),
  );
  operator = startLocalOperator({
    kubeconfig,
    instance: INSTANCE,
    leaseNamespace: NS,
    env: { MOLT_WORKER_IMAGE: MOLT_IMAGE },
  });
});

after(() => {
  // The App goes first, while its operator runs to remove its finalizer; then the operator.
  kubectlResult(['-n', NS, 'delete', 'apps.molt.dev', 'kv', '--timeout=90s']);
  operator?.stop();
  kubectlResult(['-n', NS, 'delete', 'pod', 'peek', '--wait=false', '--ignore-not-found']);
  kubectlResult(['delete', 'namespace', NS, '--wait=false']);
  kubectlResult(['delete', 'releases.molt.dev', rel(1), rel(2), rel(3), '--ignore-not-found', '--wait=false']);
  if (work) rmSync(work, { recursive: true, force: true });
  stopClusterIfStarted();
});

const before1: Record<string, string> = {};
const logs: Record<string, string> = {};

test('installed: two members, each with its own data', async () => {
  apply(release(1, '1.0.0'));
  apply(release(2, '2.0.0'));
  apply(appDoc(1));
  await waitStatus('kv installed', (s) => s.phase === 'Running' && ready(s) && s.release === rel(1));
  for (const p of PODS) {
    sh(
      p,
      `set -e; mkdir -p /data/db && echo "precious $MOLT_MEMBER" > /data/note && echo secret > /data/db/key && ` +
        'chmod 600 /data/db/key && dd if=/dev/urandom of=/data/db/table bs=1024 count=200 2>/dev/null && ' +
        'ln -s db/table /data/current && touch -d "2020-01-02 03:04:05" /data/note /data/db/key /data/db/table',
    );
    before1[p] = volumeState(p);
    logs[p] = sh(p, 'cat /data/events /data/hooks 2>/dev/null; true');
    assert.match(before1[p] as string, /\.\/db\/table regular file 644 0:0 1577934245 204800 /);
  }
  assert.notEqual(before1['kv-db-0'], before1['kv-db-1'], 'each member has data of its own');
});

test('2.0.0, whose member hook corrupts the data and fails on member 0, is rolled back: every member restored before 1.0.0 starts', async () => {
  apply(appDoc(2));
  const s = await waitStatus(
    'the rollback to 1.0.0',
    (x) => x.lastUpgrade?.to === rel(2) && !x.upgrade && x.phase === 'Running' && ready(x),
  );
  assert.equal(s.lastUpgrade.outcome, 'RolledBack', JSON.stringify(s.lastUpgrade));
  assert.match(s.lastUpgrade.message, /HookFailed|migration failed/);
  for (const p of PODS) {
    const pod = JSON.parse(kubectl(['-n', NS, 'get', 'pod', p, '-o', 'json']));
    assert.equal(pod.metadata.labels['molt.dev/release'], rel(1), `${p} runs 1.0.0 again`);
    assert.equal(volumeState(p), before1[p], `${p}: every file's bytes, mode, owner and time as before the rollout`);
    assert.equal(sh(p, 'cat /data/note').trim(), `precious ${p}`);
    // What 1.0.0 and the hooks appended since: 1.0.0 started once more (on its restored data), its revert hook ran.
    const now = sh(p, 'cat /data/events /data/hooks 2>/dev/null; true');
    assert.ok(now.startsWith((logs[p] as string).split('\n')[0] as string), `${p}: ${now}`);
    assert.doesNotMatch(now, /2\.0\.0/, `${p}: nothing 2.0.0 wrote is left on the volume`);
    assert.match(now, new RegExp(`--pod_reverted 1\\.0\\.0 ${p}`));
  }
  const evs = kubectl(['-n', NS, 'get', 'events', '-o', 'jsonpath={range .items[*]}{.reason} {.message}{"\\n"}{end}']);
  for (const reason of ['SnapshotTaken', 'MemberHeld', 'VolumesRestored', 'MemberReleased'])
    assert.match(evs, new RegExp(`^${reason} `, 'm'), `Event ${reason}`);
  for (const p of PODS) assert.match(evs, new RegExp(`^VolumesRestored the volumes of ${p} `, 'm'));
});

test('the displaced copies hold what 2.0.0 wrote; molt snapshots lists the copies per member', async () => {
  const claims = JSON.parse(
    kubectl(['-n', NS, 'get', 'pvc', '-l', 'molt.dev/app=kv,molt.dev/component=volume-snapshot', '-o', 'json']),
  ).items.map((c: any) => c.metadata.name as string);
  const displaced = PODS.map((p) =>
    claims.find((c: string) => c.startsWith(`data-${p}-molt-g`) && c.endsWith('-displaced')),
  );
  assert.ok(displaced.every(Boolean), `a displaced copy per member: ${claims.join(', ')}`);
  apply(`apiVersion: v1
kind: Pod
metadata: {name: peek, namespace: ${NS}}
spec:
  restartPolicy: Never
  containers:
    - name: main
      image: ${IMAGE}:1.0.0
      command: [sh, -c, 'for i in 0 1; do mkdir -p /tmp/$i && tar -xf /d$i/data.displaced.tar -C /tmp/$i && echo "$i $(cat /tmp/$i/note) $(cat /tmp/$i/only-2.0.0) $(ls /tmp/$i/db)"; done']
      volumeMounts: [{name: d0, mountPath: /d0}, {name: d1, mountPath: /d1}]
  volumes:
    - {name: d0, persistentVolumeClaim: {claimName: ${displaced[0]}, readOnly: true}}
    - {name: d1, persistentVolumeClaim: {claimName: ${displaced[1]}, readOnly: true}}
`);
  await waitFor(
    'the peek pod',
    () => {
      const phase = kubectl(['-n', NS, 'get', 'pod', 'peek', '-o', 'jsonpath={.status.phase}']);
      return phase === 'Succeeded' || phase === 'Failed' ? phase : undefined;
    },
    120_000,
  );
  assert.equal(
    kubectl(['-n', NS, 'logs', 'peek']).trim(),
    '0 migrated by 2.0.0 kv-db-0 table\n1 migrated by 2.0.0 kv-db-1 table',
    "2.0.0's writes (and its deletion of db/key) are kept aside",
  );
  // A claim in use by a pod is only deleted with it (pvc-protection): the reader goes.
  kubectl(['-n', NS, 'delete', 'pod', 'peek', '--wait=true']);
  const r = spawnSync(MOLT, ['--kubeconfig', kubeconfig, '-n', NS, 'snapshots', 'kv', '-o', 'json'], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', KUBECONFIG: '', MOLT_FROM_SOURCES: '1' },
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const sets = JSON.parse(r.stdout) as { from: string; to: string; entries: { volume: string; bytes: number }[] }[];
  assert.deepEqual(
    sets.map((x) => [x.from, x.to, x.entries.map((e) => e.volume).sort()]),
    [[rel(1), rel(2), ['data (kv-db-0)', 'data (kv-db-1)', 'data.displaced (kv-db-0)', 'data.displaced (kv-db-1)']]],
  );
  assert.ok(
    sets[0]?.entries.every((e) => e.bytes > 200 * 1024),
    'the archive sizes are recorded',
  );
});

test('a later rollout whose release keeps one operation (keepSnapshots: 1) prunes the earlier copies', async () => {
  apply(release(3, '3.0.0', '{keepSnapshots: 1}'));
  apply(appDoc(3));
  const s = await waitStatus(
    'the rollout to 3.0.0',
    (x) => x.lastUpgrade?.to === rel(3) && !x.upgrade && x.phase === 'Running' && ready(x),
  );
  assert.equal(s.lastUpgrade.outcome, 'Succeeded', JSON.stringify(s.lastUpgrade));
  for (const p of PODS) assert.equal(sh(p, 'cat /data/note').trim(), `precious ${p}`, `${p} kept its data`);
  const claims = () =>
    kubectl([
      '-n',
      NS,
      'get',
      'pvc',
      '-l',
      'molt.dev/app=kv,molt.dev/component=volume-snapshot',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name} {.metadata.labels.molt\\.dev/generation}{"\\n"}{end}',
    ])
      .trim()
      .split('\n')
      .filter(Boolean);
  const left = await waitFor(
    'the copies of the rolled-back rollout pruned',
    () => {
      const c = claims();
      return new Set(c.map((x) => x.split(' ')[1])).size === 1 ? c : undefined;
    },
    60_000,
  ).catch((e: Error) => {
    const evs = kubectl([
      '-n',
      NS,
      'get',
      'events',
      '-o',
      'jsonpath={range .items[*]}{.reason} {.message}{"\\n"}{end}',
    ]);
    throw new Error(
      `${e.message}\nclaims: ${claims().join(', ')}\nevents:\n${evs.slice(-3000)}\noperator log:\n${operator?.log().slice(-3000)}`,
    );
  });
  assert.deepEqual(
    left.map((x) => x.split(' ')[0]?.replace(/-g\d+$/, '-gN')).sort(),
    PODS.map((p) => `data-${p}-molt-gN`),
    'one copy per member of the last rollout; the earlier ones and what they displaced are gone',
  );
  const evs = kubectl(['-n', NS, 'get', 'events', '-o', 'jsonpath={range .items[*]}{.reason} {.message}{"\\n"}{end}']);
  assert.match(evs, /^SnapshotsPruned deleted the volume copies .*-displaced/m);
});
