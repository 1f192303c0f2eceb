// End to end: the molt CLI against the real cluster of test/k8s (`molt --kubeconfig K -n NS …`),
// through the App resources the operator reconciles. The operator is installed from deploy/
// (kustomize) with its own image tag built by deploy/image/build. A bad manifest is refused
// with file:line and nothing reaches the cluster; apply creates and upgrades an inline App and
// waits like local apply; get and history read the resources; rollback goes back to the
// previous version with the claim's bytes intact; a downgrade fails with the operator's reason;
// an unknown context fails clearly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { moltLimitMs, spawnSyncWithin } from '../command-limit.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
import { buildOperatorImage, installOperator, OPERATOR_NS, removeOperatorIfLast } from '../k8s/operator.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MOLT = join(ROOT, 'bin/molt');
const NS = `molt-cli-${randomBytes(3).toString('hex')}`;
/** A second namespace, named by metadata.namespace in a document. */
const NS2 = `${NS}-b`;
const IMAGE = 'localhost/molt-e2e-cli-app';
const OPERATOR_IMAGE = `localhost/molt-operator:e2e-${randomBytes(4).toString('hex')}`;
let work: string;
let kubeconfig: string;
let kubectlPath: string;
let operatorInstalledByUs = false;

const START = `#!/bin/sh
echo "start $(cat /app/VERSION)" >> /data/events
sleep "$(cat /data/start-delay-$(cat /app/VERSION) 2>/dev/null || echo 0)"
touch /tmp/ready
trap 'exit 0' TERM
while true; do sleep 1; done
`;

/** A one-layer docker-archive of a busybox image with /app/VERSION and the start script. */
async function appImageTar(version: string, file: string): Promise<void> {
  await writeDockerArchive(
    file,
    `${IMAGE}:${version}`,
    { '/app/VERSION': version, '/app/start.sh': { content: START, mode: 0o755 }, '/data/.keep': '' },
    '/app/start.sh',
  );
}

function manifest(version: string, image = `${IMAGE}:${version}`): string {
  return `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: notes, labels: {tier: db}}
spec:
  package: official/notes
  version: ${version}
  image: ${image}
  volumes: [{name: data, mountPath: /data}]
  probes:
    startup: {exec: [cat, /tmp/ready], periodSeconds: 1, failureThreshold: 30}
  stopTimeoutSeconds: 2
`;
}

const releases: string[] = [];

function releaseDoc(name: string, version: string, upgradable?: boolean): string {
  return `apiVersion: molt.dev/v1alpha1
kind: Release
metadata: {name: ${name}}
spec:
  package: official/shop
  version: ${version}
${upgradable === undefined ? '' : `  upgradable: ${upgradable}\n`}  roles:
    - name: main
      image: ${IMAGE}:${version}
      volumes: [{name: data, mountPath: /data}]
      probes: {startup: {exec: [cat, /tmp/ready], periodSeconds: 1, failureThreshold: 30}}
      stopTimeoutSeconds: 2
`;
}

function releaseApp(release: string): string {
  return `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: shop}
spec:
  release: ${release}
  roles: [{name: main, members: 1}]
`;
}

function file(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `molt --kubeconfig K -n NS ARGS` as a user would. */
function molt(args: string[], cluster = ['--kubeconfig', kubeconfig, '-n', NS]): Run {
  return spawnSyncWithin(MOLT, [...cluster, ...args], moltLimitMs(args), 300_000, {
    env: { ...process.env, NO_COLOR: '1', KUBECONFIG: '' },
  });
}

function ok(args: string[]): Run {
  const r = molt(args);
  assert.equal(r.status, 0, `molt ${args.join(' ')} failed:\n${r.stdout}${r.stderr}\n${operatorLogs()}`);
  return r;
}

function operatorLogs(): string {
  const r = kubectlResult(['-n', OPERATOR_NS, 'logs', 'deploy/molt-operator', '--tail=30']);
  return `operator log:\n${r.stdout}${r.stderr}`;
}

function exec(cmd: string): string {
  return kubectl(['-n', NS, 'exec', 'notes-0', '-c', 'main', '--', 'sh', '-c', cmd]);
}

function appCr(): any {
  return JSON.parse(kubectl(['-n', NS, 'get', 'apps.molt.dev', 'notes', '-o', 'json']));
}

before(async () => {
  const h = await ensureCluster();
  kubeconfig = h.kubeconfig;
  kubectlPath = h.kubectlPath;
  work = mkdtempSync(join(tmpdir(), 'molt-k8s-cli-'));
  const operatorTar = buildOperatorImage(work, OPERATOR_IMAGE);
  for (const v of ['1.0.0', '2.0.0']) await appImageTar(v, join(work, `app-${v}.tar`));
  loadImage(operatorTar, join(work, 'app-1.0.0.tar'), join(work, 'app-2.0.0.tar'));
  operatorInstalledByUs = await installOperator(OPERATOR_IMAGE, ['apps.molt.dev', 'releases.molt.dev']);
  kubectl(['create', 'namespace', NS]);
  kubectl(['create', 'namespace', NS2]);
});

after(() => {
  kubectlResult(['-n', NS, 'delete', 'apps.molt.dev', '--all', '--timeout=60s']);
  kubectlResult(['-n', NS2, 'delete', 'apps.molt.dev', '--all', '--timeout=60s']);
  kubectlResult(['delete', 'namespace', NS, NS2, '--wait=false']);
  for (const r of releases) kubectlResult(['delete', 'releases.molt.dev', r, '--wait=false']);
  removeOperatorIfLast(operatorInstalledByUs);
  if (work) rmSync(work, { recursive: true, force: true });
  stopClusterIfStarted();
});

test('an unknown --context fails clearly, before anything is sent', () => {
  const r = molt(['get', 'apps'], ['--kubeconfig', kubeconfig, '--context', 'no-such-context']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error\[KubeConfigInvalid\]: .*context "no-such-context" is not in the kubeconfig/m);
  assert.match(r.stderr, /^hint: /m);
});

test('a file with one invalid document: file:line:col error, exit 1, nothing reaches the cluster', () => {
  const bad = file(
    'bad.yaml',
    `${manifest('1.0.0')}---\n${manifest('1.0.0').replace('metadata: {name: notes', 'metadata: {name: other').replace('  version: 1.0.0', '  versoin: 1.0.0')}`,
  );
  const r = molt(['apply', '-f', bad]);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /bad\.yaml:1[67]:\d+: /);
  assert.match(r.stderr, /versoin/);
  assert.equal(
    JSON.parse(kubectl(['-n', NS, 'get', 'apps.molt.dev', '-o', 'json'])).items.length,
    0,
    'no App was created',
  );
});

let blobSum = '';

test('apply creates the App and waits until it runs; get shows it; rollback has nothing to go back to', () => {
  const r = ok(['apply', '-f', file('v1.yaml', manifest('1.0.0'))]);
  assert.equal(r.stdout, 'app/notes created: 1.0.0\n');
  const cr = JSON.parse(kubectl(['-n', NS, 'get', 'apps.molt.dev', 'notes', '-o', 'json', '--show-managed-fields']));
  assert.equal(cr.status.phase, 'Running');
  assert.equal(cr.metadata.managedFields.find((f: any) => f.operation === 'Apply')?.manager, 'molt-cli');
  assert.match(
    ok(['get', 'apps']).stdout,
    /^NAME\s+VERSION\s+PHASE\s+READY\s+AGE\nnotes\s+1\.0\.0\s+Running\s+1\/1\s+\d+s\n$/,
  );
  const json = JSON.parse(ok(['get', 'app', 'notes', '-o', 'json']).stdout);
  assert.equal(json.kind, 'App');
  assert.equal(json.status.installedVersion, '1.0.0');
  assert.equal(json.metadata.managedFields, undefined, 'printed like kubectl, without managedFields');
  assert.match(ok(['history', 'notes']).stdout, /^#1 install ∅ → 1\.0\.0   Succeeded/m);
  const none = molt(['rollback', 'notes']);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /^error\[NothingToRollBack\]: app "notes" has no previous version/m);
  blobSum =
    exec('dd if=/dev/urandom of=/data/blob bs=1024 count=256 2>/dev/null; sync; md5sum /data/blob').split(' ')[0] ?? '';
  assert.match(blobSum, /^[0-9a-f]{32}$/);
  assert.equal(ok(['apply', '-f', file('v1.yaml', manifest('1.0.0'))]).stdout, 'app/notes unchanged\n');
});

test('a kubeconfig whose server is plain http:// (kubectl proxy) works as with kubectl', async () => {
  const proxy = spawn(kubectlPath, ['proxy', '--port=0'], {
    env: { ...process.env, KUBECONFIG: kubeconfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const port = await new Promise<string>((resolve, reject) => {
      let out = '';
      proxy.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /Starting to serve on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      proxy.once('exit', (code) => reject(new Error(`kubectl proxy exited ${code}: ${out}`)));
    });
    const plain = file(
      'proxy.kubeconfig',
      `apiVersion: v1
kind: Config
clusters: [{name: proxy, cluster: {server: "http://127.0.0.1:${port}"}}]
users: [{name: none, user: {}}]
contexts: [{name: proxy, context: {cluster: proxy, user: none, namespace: ${NS}}}]
current-context: proxy
`,
    );
    const r = molt(['get', 'apps'], ['--kubeconfig', plain]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^notes\s+1\.0\.0\s+Running/m);
  } finally {
    proxy.kill();
  }
});

test('apply of a new version waits for the upgrade and reports it; history lists install and upgrade', () => {
  // The new version also brings an env var: rollback must take the whole spec back, not only the version.
  const r = ok(['apply', '-f', file('v2.yaml', `${manifest('2.0.0')}  env: {MODE: two}\n`)]);
  assert.equal(r.stdout, 'app/notes upgraded: 1.0.0 → 2.0.0\n');
  assert.equal(exec('cat /app/VERSION').trim(), '2.0.0');
  assert.equal(exec('echo "[$MODE]"').trim(), '[two]');
  assert.equal(exec('md5sum /data/blob').split(' ')[0], blobSum);
  const history = ok(['history', 'notes']).stdout;
  assert.match(history, /^#1 install ∅ → 1\.0\.0   Succeeded/m);
  assert.match(history, /^#2 upgrade 1\.0\.0 → 2\.0\.0   Succeeded/m);
  const entries = JSON.parse(ok(['history', 'notes', '-o', 'json']).stdout);
  assert.deepEqual(
    entries.map((e: any) => [e.kind, e.from ?? null, e.to, e.result]),
    [
      ['install', null, '1.0.0', 'Succeeded'],
      ['upgrade', '1.0.0', '2.0.0', 'Succeeded'],
    ],
  );
});

test('rollback goes back to the previous version, keeps the bytes and shows in history', () => {
  const r = ok(['rollback', 'notes']);
  assert.equal(r.stdout, 'app/notes rolled back: 2.0.0 → 1.0.0\n');
  assert.equal(exec('cat /app/VERSION').trim(), '1.0.0');
  assert.equal(exec('md5sum /data/blob').split(' ')[0], blobSum, 'the claim keeps its bytes');
  const cr = appCr();
  assert.equal(cr.spec.version, '1.0.0');
  assert.equal(cr.spec.image, `${IMAGE}:1.0.0`);
  assert.equal(cr.spec.env?.MODE, undefined, 'the whole previous spec is back, not just version and image');
  assert.equal(exec('echo "[$MODE]"').trim(), '[]');
  assert.equal(cr.metadata.annotations?.['molt.dev/rollback-to'], undefined, 'the permission is removed once used');
  assert.match(ok(['history', 'notes']).stdout, /^#3 rollback 2\.0\.0 → 1\.0\.0   Succeeded/m);
  assert.match(ok(['get', 'apps']).stdout, /^notes\s+1\.0\.0\s+Running\s+1\/1/m);
});

test("a downgrade apply fails with the operator's refusal; nothing changes", () => {
  const uid = kubectl(['-n', NS, 'get', 'pod', 'notes-0', '-o', 'jsonpath={.metadata.uid}']);
  const r = molt(['apply', '-f', file('old.yaml', manifest('0.5.0', `${IMAGE}:1.0.0`))]);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^error\[DowngradeRefused\]: notes: version 0\.5\.0 is lower than the installed 1\.0\.0/m);
  assert.match(r.stderr, /^1\.0\.0 kept running\.$/m);
  assert.match(r.stderr, /^hint: .*molt rollback notes/m);
  assert.equal(
    kubectl(['-n', NS, 'get', 'pod', 'notes-0', '-o', 'jsonpath={.metadata.uid}']),
    uid,
    'the member was not touched',
  );
  assert.match(
    ok(['history', 'notes']).stdout,
    /^#4 upgrade 1\.0\.0 → 0\.5\.0   Refused .*\n   cause: DowngradeRefused: /m,
  );
});

test('rollback during an upgrade: the operator rolls it back at once; history shows the upgrade RolledBack', async () => {
  exec('echo 120 > /data/start-delay-2.0.0');
  const r = ok(['apply', '-f', file('v2.yaml', manifest('2.0.0')), '--no-wait']);
  assert.equal(r.stdout, 'app/notes configured (not waiting: --no-wait)\n');
  await waitFor(
    'the upgrade to reach the member',
    () => (appCr().status?.members?.[0]?.podUpgradeStatus === 'upgrading' ? true : undefined),
    90_000,
  );
  const back = ok(['rollback', 'notes']);
  assert.equal(back.stdout, 'app/notes rolled back to 1.0.0\n');
  assert.match(back.stderr, /rolling back to 1\.0\.0 \(the upgrade to 2\.0\.0 in flight is rolled back\)/);
  assert.equal(exec('cat /app/VERSION').trim(), '1.0.0');
  assert.equal(exec('md5sum /data/blob').split(' ')[0], blobSum);
  assert.match(
    ok(['history', 'notes']).stdout,
    /^#5 upgrade 1\.0\.0 → 2\.0\.0   RolledBack .*(\n   image: .*)?\n   cause: RollbackRequested: /m,
  );
});

test('a Release app: apply brings the Release and the App, get releases shows who uses it, an upgrade and a rollback by release', () => {
  const r1 = `cli-${NS.slice(-6)}-1`;
  const r2 = `cli-${NS.slice(-6)}-2`;
  releases.push(r1, r2);
  const first = ok(['apply', '-f', file('rel1.yaml', `${releaseDoc(r1, '1.0.0', true)}---\n${releaseApp(r1)}`)]);
  assert.equal(first.stdout, `release/${r1} created\napp/shop created: ${r1}\n`);
  assert.match(
    ok(['get', 'releases']).stdout,
    new RegExp(`^${r1}\\s+official/shop\\s+1\\.0\\.0\\s+true\\s+main\\s+${NS}/shop$`, 'm'),
  );
  const second = ok(['apply', '-f', file('rel2.yaml', `${releaseDoc(r2, '2.0.0', true)}---\n${releaseApp(r2)}`)]);
  assert.equal(second.stdout, `release/${r2} created\napp/shop upgraded: ${r1} → ${r2}\n`);
  assert.equal(ok(['rollback', 'shop']).stdout, `app/shop rolled back: ${r2} → ${r1}\n`);
  const kinds = JSON.parse(ok(['history', 'shop', '-o', 'json']).stdout).map(
    (e: any) => `${e.kind} ${e.to} ${e.result}`,
  );
  assert.deepEqual(kinds, [`install ${r1} Succeeded`, `upgrade ${r2} Succeeded`, `rollback ${r1} Succeeded`]);
  assert.match(ok(['get', 'apps']).stdout, new RegExp(`^shop\\s+1\\.0\\.0\\s+Running\\s+1/1`, 'm'));
});

test('metadata.namespace: without -n the App goes to its namespace and is waited for there; a different -n is refused, nothing sent', () => {
  const doc = file(
    'ns2.yaml',
    manifest('1.0.0').replace(
      'metadata: {name: notes, labels: {tier: db}}',
      `metadata: {name: notes, namespace: ${NS2}, labels: {tier: db}}`,
    ),
  );
  const noFlag = ['--kubeconfig', kubeconfig];
  const r = molt(['apply', '-f', doc], noFlag);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, 'app/notes created: 1.0.0\n');
  assert.equal(JSON.parse(kubectl(['-n', NS2, 'get', 'apps.molt.dev', 'notes', '-o', 'json'])).status.phase, 'Running');
  const inNs = JSON.parse(kubectl(['-n', NS, 'get', 'apps.molt.dev', 'notes', '-o', 'json']));
  const clash = molt(['apply', '-f', doc]);
  assert.equal(clash.status, 1, clash.stdout + clash.stderr);
  assert.match(
    clash.stderr,
    new RegExp(
      `ns2\\.yaml:3:\\d+: metadata\\.namespace: "${NS2}" does not match --namespace "${NS}" \\(nothing was applied\\)`,
    ),
  );
  assert.match(clash.stderr, new RegExp(`^hint: Pass -n ${NS2}, or remove metadata\\.namespace`, 'm'));
  assert.equal(
    JSON.parse(kubectl(['-n', NS, 'get', 'apps.molt.dev', 'notes', '-o', 'json'])).metadata.generation,
    inNs.metadata.generation,
    'the App of -n is untouched',
  );
  assert.equal(molt(['delete', 'notes', '--volumes'], [...noFlag, '-n', NS2]).status, 0);
});

test('delete removes the App; --volumes also its claims', () => {
  // The upgrades above left volume copies for rollbacks (how many the operator keeps is its policy).
  assert.match(
    ok(['delete', 'notes', '--volumes']).stdout,
    /^app\/notes deleted \(pvc\/data-notes-0 removed(; \d+ volume cop(y|ies) removed)?\)\n$/,
  );
  assert.equal(kubectlResult(['-n', NS, 'get', 'apps.molt.dev', 'notes']).status, 1);
  const left = JSON.parse(kubectl(['-n', NS, 'get', 'pvc', '-l', 'molt.dev/app=notes', '-o', 'json'])).items;
  assert.deepEqual(
    left.filter((c: any) => !c.metadata.deletionTimestamp).map((c: any) => c.metadata.name),
    [],
    'every claim of the app is gone or going (pvc-protection holds one while a pod still uses it)',
  );
});
