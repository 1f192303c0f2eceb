/**
 * `npm run demo -- --kubernetes`: the demo of `molt demo` on the test cluster of test/k8s,
 * with the operator built from this checkout and the images pulled from the test registry.
 * Builds three versions of the notes example, installs v1 through `molt --kubeconfig apply`,
 * writes notes, upgrades to v1.1 (notes kept), tries a broken v2 (rolled back by the
 * operator) and shows `molt get` and `molt history`. The cluster and the app stay up for
 * exploring; the last lines say how to stop them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { filesFrom } from '../src/examples/images.ts';
import { writeDockerArchive } from '../test/images/build.ts';
import { CLUSTER_SCRIPT, kubectl, kubectlResult, loadImage, runCluster } from '../test/k8s/cluster.ts';
import { buildOperatorImage, startLocalOperator, type LocalOperator } from '../test/k8s/operator.ts';
import { createPullSecret, currentRegistry, parseExports, type TestRegistry } from '../test/k8s/registry.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const EXAMPLE = join(ROOT, 'examples/notes');
const NS = 'molt-demo';
const APP = 'notes';
const VERSIONS = ['1.0.0-1', '1.1.0-1', '2.0.0-1'] as const;
const BROKEN = '2.0.0-1';

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Runs a command with its output shown; throws with what failed when it exits non-zero. */
function show(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function must(cmd: string, args: string[]): void {
  if (show(cmd, args) !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
}

/** The notes image of `version`, pushed to the test registry; returns its reference. */
async function pushNotes(work: string, reg: TestRegistry, version: string): Promise<string> {
  const ref = `${reg.address}/${NS}/notes:${version}`;
  const tar = join(work, `notes-${version}.tar`);
  const vars = `NOTES_VERSION=${version}${version === BROKEN ? " NOTES_BROKEN='config format 3 not understood'" : ''}`;
  await writeDockerArchive(
    tar,
    ref,
    {
      ...filesFrom(join(EXAMPLE, 'www'), '/www'),
      '/app/notes.sh': { content: readFileSync(join(EXAMPLE, 'start.sh')), mode: 0o755 },
      // The example reads its version from the environment; this image sets it for it.
      '/app/start.sh': { content: `#!/bin/sh\nexport ${vars}\nexec /bin/sh /app/notes.sh\n`, mode: 0o755 },
    },
    '/app/start.sh',
  );
  const storage = ['--root', join(work, 'root'), '--runroot', join(work, 'runroot'), '--cgroup-manager', 'cgroupfs'];
  for (const args of [
    ['load', '-q', '-i', tar],
    ['push', '-q', '--authfile', reg.authFile, ref],
  ]) {
    const r = spawnSync('podman', [...storage, '--events-backend', 'file', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr}`);
  }
  return ref;
}

function manifest(version: string, image: string, labels: Record<string, string>): string {
  return stringify({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name: APP, namespace: NS, labels: { example: 'notes', ...labels } },
    spec: {
      package: 'examples/notes',
      version,
      image,
      imagePullSecrets: [{ name: 'pull' }],
      volumes: [{ name: 'data', mountPath: '/var/lib/notes', size: '64Mi' }],
      ports: ['8080:8080'],
      probes: { startup: { http: { port: 8080, path: '/cgi-bin/notes' }, periodSeconds: 1, failureThreshold: 20 } },
      stopTimeoutSeconds: 5,
    },
  });
}

/** The notes the app serves, read inside its pod (busybox wget), so no route to the pod network is needed. */
function notes(): string {
  return kubectl(['-n', NS, 'exec', `${APP}-0`, '--', 'wget', '-qO-', 'http://127.0.0.1:8080/cgi-bin/notes']);
}

function post(note: string): void {
  kubectl([
    '-n',
    NS,
    'exec',
    `${APP}-0`,
    '--',
    'wget',
    '-qO-',
    `--post-data=${note}`,
    'http://127.0.0.1:8080/cgi-bin/notes',
  ]);
  say(`   POST "${note}"`);
}

const indent = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `     | ${l}`)
    .join('\n');

/**
 * The operator of this checkout: by default built, pushed to the test registry and installed
 * in the cluster from deploy/ (`test/k8s/cluster operator`). With --local-operator it runs as
 * a local process for the demo's App only (`--instance`): the test suite uses that, so the demo
 * never swaps the in-cluster operator under test files that install their own build of it.
 */
function startOperator(exported: Record<string, string>): LocalOperator | undefined {
  if (process.argv.includes('--local-operator')) {
    say('\n1. The operator of this checkout, as a local process for this demo (--local-operator)');
    // Its volume copy Jobs run molt's image: a local process has none of its own.
    const image = `localhost/molt-operator:demo-${process.pid}`;
    const dir = mkdtempSync(join(tmpdir(), 'molt-demo-op-'));
    try {
      loadImage(buildOperatorImage(dir, image));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return startLocalOperator({
      kubeconfig: exported.KUBECONFIG ?? '',
      instance: 'molt-demo',
      leaseNamespace: NS,
      env: { MOLT_REGISTRY_CA: exported.MOLT_REGISTRY_CA ?? '', MOLT_WORKER_IMAGE: image },
    });
  }
  say('\n1. The operator of this checkout: built, pushed to the test registry, installed from deploy/');
  must(CLUSTER_SCRIPT, ['operator']);
  return undefined;
}

/**
 * The demo's namespace, new: one left by an earlier demo goes first with what it holds. Its
 * App's finalizer is dropped (that demo's operator may be gone, e.g. after Ctrl-C), and a
 * namespace still terminating is waited for — an operator cannot take its Lease in one.
 */
function freshNamespace(): void {
  if (kubectlResult(['get', 'namespace', NS]).status === 0) {
    say(`   (removing the ${NS} namespace left by an earlier demo)`);
    const unfinalize = ['--type=merge', '-p', '{"metadata":{"finalizers":null}}'];
    kubectlResult(['-n', NS, 'patch', 'apps.molt.dev', APP, ...unfinalize]);
    kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=300s']);
  }
  kubectl(['create', 'namespace', NS]);
}

async function main(): Promise<number> {
  say('== molt demo on Kubernetes: the test cluster of test/k8s (a cold first build takes ~7-20 min)\n');
  // Registered as a user of the cluster, so test runs sharing it never stop it under the demo.
  must(CLUSTER_SCRIPT, ['acquire', String(process.pid)]);
  const exported = parseExports(runCluster(['env']).stdout);
  const env = { ...process.env, KUBECONFIG: exported.KUBECONFIG ?? '' };
  freshNamespace();
  const operator = startOperator(exported);
  const reg = currentRegistry();
  const work = mkdtempSync(join(tmpdir(), 'molt-demo-k8s-'));
  try {
    say(`\n2. Three versions of the notes example, pushed to ${reg.address}/${NS}/notes:`);
    const images: Record<string, string> = {};
    for (const v of VERSIONS) {
      images[v] = await pushNotes(work, reg, v);
      say(`   pushed ${images[v]}${v === BROKEN ? '  (broken on purpose: exits at start)' : ''}`);
    }
    createPullSecret(reg, NS);
    const files = VERSIONS.map((v) => {
      const file = join(work, `notes-${v}.yaml`);
      writeFileSync(file, manifest(v, images[v] as string, operator?.label ?? {}));
      return file;
    });
    const molt = (...args: string[]) =>
      show(join(ROOT, 'bin/molt'), ['--kubeconfig', env.KUBECONFIG ?? '', ...args], env);
    say(`\n3. Install v1:  molt --kubeconfig $KUBECONFIG apply -f notes-${VERSIONS[0]}.yaml`);
    if (molt('apply', '-f', files[0] as string, '--timeout', '5m') !== 0) return fail('install failed');
    say('\n4. Write notes:');
    post('buy milk');
    post('molt keeps my notes across upgrades');
    say(indent(notes()));
    say(`\n5. Upgrade to v1.1:  molt apply -f notes-${VERSIONS[1]}.yaml`);
    if (molt('apply', '-f', files[1] as string, '--timeout', '5m') !== 0) return fail('upgrade failed');
    const upgraded = notes();
    say(`   Same notes, new version:\n${indent(upgraded)}`);
    if (!upgraded.includes('1.1.0-1') || !upgraded.includes('buy milk')) return fail('v1.1 does not serve the notes');
    say(`\n6. Try the broken v2:  molt apply -f notes-${BROKEN}.yaml   (expected to fail; the operator rolls back)`);
    const broken = molt('apply', '-f', files[2] as string, '--timeout', '5m');
    const back = notes();
    say(
      `   v2 ${broken === 0 ? 'unexpectedly succeeded' : 'failed; rolled back'}. v1.1 serves the same notes:\n${indent(back)}`,
    );
    if (broken === 0 || !back.includes('1.1.0-1') || !back.includes('buy milk'))
      return fail('rollback did not restore v1.1');
    say('\n7. molt get apps');
    molt('get', 'apps', '-n', NS);
    say(`\n8. molt history ${APP}`);
    molt('history', APP, '-n', NS);
    say(
      `\n== Demo done. The cluster and the app stay up:\n   eval "$(test/k8s/cluster env)"\n   bin/molt --kubeconfig "$KUBECONFIG" -n ${NS} get app ${APP} -o yaml\n   test/k8s/cluster down   # stops everything the cluster started\n`,
    );
    return 0;
  } finally {
    operator?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function fail(why: string): number {
  say(`\n== Demo FAILED: ${why}`);
  return 1;
}

process.exitCode = await main().catch((e: unknown) => {
  say(`\n== Demo FAILED: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
});
