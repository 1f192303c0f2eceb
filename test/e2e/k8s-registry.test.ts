// End to end on the test cluster with its registry (issue 15, acceptance 1 and 2): in a
// namespace that enforces Pod Security `restricted`, an App whose image (pulled from the test
// registry with an imagePullSecret) declares its upgrade scripts only in its labels is
// installed and upgraded — the pre-upgrade script in the old pod with <old> <new>, the
// post-upgrade script in the new pod — every pod molt makes passing `restricted`; a version
// whose post-upgrade script corrupts the data and fails is rolled back with the volume's bytes,
// modes, owners, times and links exactly as before the upgrade (restored from the copy taken
// before its pre-upgrade script by a Job of molt's own image, itself passing `restricted`);
// `molt snapshots` lists the copies and keepSnapshots prunes them; the digests that ran are recorded, and after
// the old tag is pushed again with other content, `molt rollback` runs the recorded digest.
// The operator runs as a local process of this checkout (`--instance`), trusting the
// registry's CA through MOLT_REGISTRY_CA; its copy Jobs run this checkout's operator image
// (built and loaded here, MOLT_WORKER_IMAGE).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { acquireRegistry, createPullSecret, releaseRegistry, type TestRegistry } from '../k8s/registry.ts';
import { INSTANCE_LABEL } from '../../src/operator/runtime/instance.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MOLT = join(ROOT, 'bin/molt');
const RUN = randomBytes(3).toString('hex');
const NS = `molt-reg-${RUN}`;
const INSTANCE = `reg-${RUN}`;
const MOLT_IMAGE = `localhost/molt-operator:e2e-reg-${RUN}`;
let reg: TestRegistry;
let kubeconfig: string;
let work: string;
let operator: LocalOperator | undefined;
const digests: Record<string, string> = {};

const START = `#!/bin/sh
if [ -e /.molt/upgrade ]; then
  while [ ! -e /.molt/upgrade-done ]; do sleep 0.2; done
fi
echo "start $(cat /app/VERSION) uid=$(id -u)" >> /data/events
touch /tmp/ready
trap 'exit 0' TERM
while true; do sleep 1; done
`;
const PRE = '#!/bin/sh\necho "pre argc=$# $1 $2 in=$(cat /app/VERSION)" >> /data/events\n';
const POST = '#!/bin/sh\necho "post argc=$# $1 $2 in=$(cat /app/VERSION)" >> /data/events\n';
const POST_CORRUPT =
  '#!/bin/sh\necho "post argc=$# $1 $2 in=$(cat /app/VERSION)" >> /data/events\necho garbage > /data/note\nexit 3\n';
const LABELS = { 'dev.molt.pre-upgrade': '/app/pre-upgrade.sh', 'dev.molt.post-upgrade': '/app/post-upgrade.sh' };

/** Builds version `content` of the app, pushes it as REG/NS/app:`tag`; returns its digest. */
async function push(tag: string, content: string, post = POST): Promise<string> {
  const tar = join(work, `${tag}-${content}.tar`);
  const ref = `${reg.address}/${NS}/app:${tag}`;
  await writeDockerArchive(
    tar,
    ref,
    {
      '/app/VERSION': content,
      '/app/start.sh': { content: START, mode: 0o755 },
      '/app/pre-upgrade.sh': { content: PRE, mode: 0o755 },
      '/app/post-upgrade.sh': { content: post, mode: 0o755 },
    },
    '/app/start.sh',
    LABELS,
  );
  const storage = [
    '--root',
    join(work, 'podman-root'),
    '--runroot',
    join(work, 'podman-runroot'),
    '--cgroup-manager',
    'cgroupfs',
    '--events-backend',
    'file',
  ];
  for (const args of [
    ['load', '-i', tar],
    ['push', '--authfile', reg.authFile, '--digestfile', join(work, 'digest'), ref],
  ]) {
    const r = spawnSync('podman', [...storage, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, `podman ${args.join(' ')}: ${r.stderr}`);
  }
  return readFileSync(join(work, 'digest'), 'utf8').trim();
}

function app(version: string): string {
  return `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: notes, namespace: ${NS}, labels: {${INSTANCE_LABEL}: ${INSTANCE}}}
spec:
  package: official/notes
  version: ${version}
  image: ${reg.address}/${NS}/app:${version}
  imagePullSecrets: [{name: pull}]
  podSecurityContext: {runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000}
  volumes: [{name: data, mountPath: /data, size: 64Mi}]
  upgrade: {keepSnapshots: 2}
  probes:
    startup: {exec: [cat, /tmp/ready], periodSeconds: 1, failureThreshold: 30}
  stopTimeoutSeconds: 2
`;
}

function status(): any {
  return JSON.parse(kubectl(['-n', NS, 'get', 'apps.molt.dev', 'notes', '-o', 'json'])).status ?? {};
}

function events(): string {
  return kubectl(['-n', NS, 'exec', 'notes-0', '--', 'cat', '/data/events']);
}

async function waitSettled(version: string, outcome?: string): Promise<any> {
  return waitFor(
    `notes settled on ${version}${outcome ? ` (${outcome})` : ''}`,
    () => {
      const s = status();
      const ready = s.conditions?.find((c: any) => c.type === 'Ready');
      if (
        s.phase === 'Running' &&
        s.installedVersion === version &&
        ready?.status === 'True' &&
        !s.upgrade &&
        (!outcome || s.lastUpgrade?.outcome === outcome)
      )
        return s;
      return undefined;
    },
    300_000,
  ).catch((e: Error) => {
    throw new Error(
      `${e.message}\nstatus: ${JSON.stringify(status())}\noperator log:\n${operator?.log().slice(-3000)}`,
    );
  });
}

before(async () => {
  ({ kubeconfig } = await ensureCluster());
  reg = acquireRegistry();
  work = mkdtempSync(join(tmpdir(), 'molt-k8s-reg-'));
  kubectl(['create', 'namespace', NS]);
  kubectl([
    'label',
    'namespace',
    NS,
    'pod-security.kubernetes.io/enforce=restricted',
    'pod-security.kubernetes.io/enforce-version=latest',
  ]);
  createPullSecret(reg, NS);
  digests['1.0.0'] = await push('1.0.0', '1.0.0');
  digests['2.0.0'] = await push('2.0.0', '2.0.0');
  digests['3.0.0'] = await push('3.0.0', '3.0.0', POST_CORRUPT);
  loadImage(buildOperatorImage(work, MOLT_IMAGE));
  operator = startLocalOperator({
    kubeconfig,
    instance: INSTANCE,
    leaseNamespace: NS,
    env: { MOLT_REGISTRY_CA: reg.ca, MOLT_WORKER_IMAGE: MOLT_IMAGE },
  });
});

after(async () => {
  // The App goes first, while its operator runs to remove its finalizer; then the operator.
  kubectlResult(['-n', NS, 'delete', 'apps.molt.dev', 'notes', '--timeout=90s']);
  operator?.stop();
  kubectlResult(['delete', 'namespace', NS, '--wait=false']);
  if (work) rmSync(work, { recursive: true, force: true });
  if (reg) releaseRegistry();
  stopClusterIfStarted();
});

test('installed from the registry with an imagePullSecret, restricted, digest recorded', async () => {
  apply(app('1.0.0'));
  const s = await waitSettled('1.0.0');
  assert.equal(s.imageDigest, digests['1.0.0'], 'status.imageDigest is the digest that was pulled');
  const pod = JSON.parse(kubectl(['-n', NS, 'get', 'pod', 'notes-0', '-o', 'json']));
  assert.equal(pod.status.containerStatuses[0].imageID, `${reg.address}/${NS}/app@${digests['1.0.0']}`);
  const sts = JSON.parse(kubectl(['-n', NS, 'get', 'statefulset', 'notes', '-o', 'json']));
  assert.equal(
    sts.spec.template.spec.containers[0].image,
    `${reg.address}/${NS}/app@${digests['1.0.0']}`,
    'the template is pinned to the digest',
  );
  assert.equal(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '64Mi');
  assert.match(events(), /start 1\.0\.0 uid=1000/);
  // fsGroup as real storage honours it (the rig's provisioner does it for hostPath volumes).
  await waitFor(
    'fsGroup 1000 on the volume',
    () =>
      kubectl(['-n', NS, 'exec', 'notes-0', '--', 'stat', '-c', '%g', '/data']).trim() === '1000' ? true : undefined,
    30_000,
  );
  kubectl(['-n', NS, 'exec', 'notes-0', '--', 'sh', '-c', 'echo precious > /data/note']);
  assert.equal(
    kubectl(['-n', NS, 'exec', 'notes-0', '--', 'stat', '-c', '%g', '/data/note']).trim(),
    '1000',
    'new files take the fsGroup',
  );
});

test('upgrade 1.0.0 → 2.0.0 runs the scripts its image labels declare: pre in the old pod, post in the new', async () => {
  apply(app('2.0.0'));
  const s = await waitSettled('2.0.0', 'Succeeded');
  assert.equal(s.imageDigest, digests['2.0.0']);
  const log = events();
  assert.match(
    log,
    /pre argc=2 1\.0\.0 2\.0\.0 in=1\.0\.0/,
    'pre-upgrade of 2.0.0 ran in the 1.0.0 pod with <old> <new>',
  );
  assert.match(log, /post argc=2 1\.0\.0 2\.0\.0 in=2\.0\.0/, 'post-upgrade ran in the 2.0.0 pod');
  assert.equal(kubectl(['-n', NS, 'exec', 'notes-0', '--', 'cat', '/data/note']).trim(), 'precious');
  const evs = kubectl([
    '-n',
    NS,
    'get',
    'events',
    '--field-selector',
    'reason=ScriptsResolved',
    '-o',
    'jsonpath={.items[*].message}',
  ]);
  assert.match(evs, /from labels/);
});

/** Every entry under /data but the mount point itself and the app's start log: name, type, mode, owner, mtime, size, link, md5. */
function volumeState(): string {
  return shInPod(
    'cd /data && find . -mindepth 1 ! -name events | sort | while read -r f; do ' +
      'echo "$f $(stat -c "%F %a %u:%g %Y %s" "$f") $(readlink "$f") $([ -f "$f" ] && [ ! -L "$f" ] && md5sum < "$f")"; done',
  );
}

/** Runs a shell script in the member's pod; returns its output. */
function shInPod(script: string): string {
  return kubectl(['-n', NS, 'exec', 'notes-0', '--', 'sh', '-c', script]);
}

test('3.0.0, whose post-upgrade script corrupts the data and fails, is rolled back to the 2.0.0 digest with the volume exactly as before', async () => {
  // Data with the shapes a database leaves: private files, an executable, a setgid directory,
  // a symlink, an empty file and directory, a larger binary file, old modification times.
  shInPod(
    'set -e; mkdir -p /data/db/empty && cd /data && echo secret > db/key && chmod 600 db/key && ' +
      'dd if=/dev/urandom of=db/table bs=1024 count=300 2>/dev/null && chmod 640 db/table && ' +
      'printf "#!/bin/sh\n" > tool && chmod 750 tool && : > db/empty-file && chmod 2750 db && ' +
      'ln -s db/table current && touch -d "2020-01-02 03:04:05" db/key db/table tool db/empty db/empty-file db note',
  );
  const before = volumeState();
  const eventsBefore = events();
  assert.match(before, /\.\/db directory 2750 1000:1000 /, before);
  apply(app('3.0.0'));
  const s = await waitSettled('2.0.0', 'RolledBack');
  assert.match(s.lastUpgrade.reason, /PostUpgradeFailed/);
  assert.equal(s.imageDigest, digests['2.0.0']);
  const pod = JSON.parse(kubectl(['-n', NS, 'get', 'pod', 'notes-0', '-o', 'json']));
  assert.equal(pod.status.containerStatuses[0].imageID, `${reg.address}/${NS}/app@${digests['2.0.0']}`);
  assert.equal(volumeState(), before, 'bytes, modes, owners, times and links exactly as before the upgrade');
  assert.equal(kubectl(['-n', NS, 'exec', 'notes-0', '--', 'cat', '/data/note']).trim(), 'precious');
  // What 3.0.0's scripts wrote is gone; 2.0.0 started once more on the restored volume.
  assert.equal(events(), `${eventsBefore}start 2.0.0 uid=1000\n`);
  const evs = kubectl(['-n', NS, 'get', 'events', '-o', 'jsonpath={range .items[*]}{.reason} {.message}{"\\n"}{end}']);
  for (const reason of ['SnapshotTaken', 'MemberHeld', 'VolumesRestored', 'MemberReleased'])
    assert.match(evs, new RegExp(`^${reason} `, 'm'), `Event ${reason}`);
});

test('molt snapshots on the cluster lists the copies: one per upgrade, and what the rollback displaced', () => {
  const r = spawnSync(MOLT, ['--kubeconfig', kubeconfig, '-n', NS, 'snapshots', 'notes', '-o', 'json'], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', KUBECONFIG: '' },
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const sets = JSON.parse(r.stdout) as { from: string; to: string; entries: { volume: string; bytes: number }[] }[];
  assert.deepEqual(
    sets.map((x) => [x.from, x.to, x.entries.map((e) => e.volume).sort()]),
    [
      ['1.0.0', '2.0.0', ['data']],
      ['2.0.0', '3.0.0', ['data', 'data.displaced']],
    ],
  );
  assert.ok((sets[1]?.entries[0]?.bytes ?? 0) > 300 * 1024, 'the archive sizes are recorded');
});

test('every pod molt made in the restricted namespace was admitted (no PodSecurity violation, no FailedCreate)', () => {
  const warnings = kubectl([
    '-n',
    NS,
    'get',
    'events',
    '-o',
    'jsonpath={range .items[*]}{.reason} {.message}{"\\n"}{end}',
  ]);
  assert.doesNotMatch(warnings, /violates PodSecurity|^FailedCreate/im);
  assert.match(warnings, /SuccessfulCreate Create Pod notes-0/);
  assert.match(warnings, /Scheduled Successfully assigned \S+\/notes-molt-exec-/, 'ExecPods were admitted');
  for (const op of ['snapshot', 'restore'])
    assert.match(
      warnings,
      new RegExp(`Scheduled Successfully assigned \\S+/notes-0-molt-${op}-g\\d+-`),
      `the ${op} Job's pod was admitted`,
    );
});

test('the old tag pushed again with other content: molt rollback runs the recorded digest', async () => {
  // Back to 2.0.0 → roll back needs an upgrade to undo: 2.0.0 is installed by an upgrade from 1.0.0.
  const evil = await push('1.0.0', '1.0.0-evil');
  assert.notEqual(evil, digests['1.0.0']);
  const r = spawnSync(MOLT, ['--kubeconfig', kubeconfig, '-n', NS, 'rollback', 'notes', '--timeout', '5m'], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', KUBECONFIG: '' },
    timeout: 330_000,
  });
  assert.equal(r.status, 0, `${r.stderr}\n${operator?.log().slice(-3000)}`);
  const s = await waitSettled('1.0.0');
  assert.equal(s.imageDigest, digests['1.0.0'], 'the digest 1.0.0 ran before, not what its tag names now');
  const pod = JSON.parse(kubectl(['-n', NS, 'get', 'pod', 'notes-0', '-o', 'json']));
  assert.equal(pod.status.containerStatuses[0].imageID, `${reg.address}/${NS}/app@${digests['1.0.0']}`);
  assert.equal(kubectl(['-n', NS, 'exec', 'notes-0', '--', 'cat', '/app/VERSION']).trim(), '1.0.0');
  assert.doesNotMatch(events(), /pre argc=2 2\.0\.0 1\.0\.0/, 'going back runs no upgrade script, as locally');
  // A third copy: keepSnapshots 2 prunes the oldest (the upgrade to 2.0.0).
  await waitFor(
    'the oldest copy pruned',
    () => {
      const claims = kubectl([
        '-n',
        NS,
        'get',
        'pvc',
        '-l',
        'molt.dev/copy',
        '-o',
        'jsonpath={.items[*].metadata.annotations.molt\\.dev/to}',
      ]);
      return claims.split(' ').sort().join(' ') === '1.0.0 3.0.0 3.0.0' ? true : undefined;
    },
    60_000,
  );
});

function plan(yaml: string): { status: number; out: string } {
  const file = join(work, `plan-${randomBytes(3).toString('hex')}.yaml`);
  writeFileSync(file, yaml);
  const r = spawnSync(MOLT, ['--kubeconfig', kubeconfig, '-n', NS, 'plan', '-f', file], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', KUBECONFIG: '', MOLT_HOME: join(work, 'empty-molt-home') },
    timeout: 60_000,
  });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

test('molt plan on a cluster answers from the cluster (an empty local store): 0 nothing to do, 2 pending, 1 refused', () => {
  let r = plan(app('1.0.0'));
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /app\/notes .*no changes/);
  r = plan(app('2.0.0'));
  assert.equal(r.status, 2, r.out);
  assert.match(r.out, /upgrade 1\.0\.0 → 2\.0\.0/);
  r = plan(app('1.0.0').replace('name: notes,', 'name: planned,'));
  assert.equal(r.status, 2, r.out);
  assert.match(r.out, /app\/planned .*install/);
  r = plan(app('0.9.0'));
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /DowngradeRefused/);
  r = plan(app('2.0.0').replace('size: 64Mi', 'size: 1Gi'));
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /volume claims cannot change in place/);
  r = plan(app('2.0.0').replace('runAsGroup: 1000,', 'runAsGroup: -5,'));
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /runAsGroup/);
  assert.equal(kubectlResult(['-n', NS, 'get', 'apps.molt.dev', 'planned']).status, 1, 'plan created nothing');
});
