/**
 * On the real cluster of test/k8s: a 3-member app upgraded through the molt operator (a
 * Release app of one role; spec.release changed → members 2, 1, 0 one at a time, each waited
 * Ready, lifecycle hooks) against the native StatefulSet RollingUpdate of the same image change
 * (3 replicas, same probes), alternating, in the same namespace. Reports the medians and their
 * ratio. The operator is installed from deploy/ with its image built by deploy/image/build.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDockerArchive } from '../test/images/build.ts';
import {
  apply,
  ensureCluster,
  kubectl,
  kubectlResult,
  loadImage,
  otherUsers,
  stopClusterIfStarted,
  waitFor,
} from '../test/k8s/cluster.ts';
import { median } from './lib.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const IMAGE = 'localhost/molt-bench-k8s';
const START = "#!/bin/sh\ntouch /tmp/ready\ntrap 'exit 0' TERM\nwhile true; do sleep 1; done\n";
const PROBE = '{exec: [cat, /tmp/ready], periodSeconds: 1, failureThreshold: 20}';

async function imageTar(tag: string, file: string): Promise<void> {
  await writeDockerArchive(
    file,
    `${IMAGE}:${tag}`,
    {
      '/app/start.sh': { content: START, mode: 0o755 },
      '/app/hook.sh': { content: '#!/bin/sh\nexit 0\n', mode: 0o755 },
      '/app/TAG': tag,
    },
    '/app/start.sh',
  );
}

function releaseDoc(name: string, version: string, tag: string): string {
  return `apiVersion: molt.dev/v1alpha1
kind: Release
metadata: {name: ${name}}
spec:
  package: bench/k8s
  version: ${version}
  upgradable: true
  roles:
    - {name: db, image: '${IMAGE}:${tag}', lifecycle: /app/hook.sh, minReadySeconds: 0, stopTimeoutSeconds: 2, probes: {startup: ${PROBE}}}
`;
}

function nativeDoc(ns: string, tag: string): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: native, namespace: ${ns}}
spec:
  replicas: 3
  serviceName: native
  podManagementPolicy: Parallel
  updateStrategy: {type: RollingUpdate}
  selector: {matchLabels: {bench: native}}
  template:
    metadata: {labels: {bench: native}}
    spec:
      terminationGracePeriodSeconds: 2
      enableServiceLinks: false
      containers:
        - {name: main, image: '${IMAGE}:${tag}', imagePullPolicy: IfNotPresent, startupProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1, failureThreshold: 20}}
`;
}

/** Installs the operator (own image tag) unless this run must leave an existing one alone. */
function installOperator(work: string): boolean {
  const image = `localhost/molt-operator:bench-${randomBytes(4).toString('hex')}`;
  const built = execFileSync(join(ROOT, 'deploy/image/build'), [join(work, 'operator.tar')], {
    encoding: 'utf8',
    env: { ...process.env, MOLT_OPERATOR_IMAGE: image },
  }).trim();
  loadImage(built);
  const existed = kubectlResult(['-n', 'molt-system', 'get', 'deploy', 'molt-operator']).status === 0;
  apply(
    kubectl(['kustomize', join(ROOT, 'deploy')]).replaceAll('image: localhost/molt-operator:dev', `image: ${image}`),
  );
  kubectl(['wait', '--for=condition=Established', 'crd/apps.molt.dev', 'crd/releases.molt.dev', '--timeout=60s']);
  kubectl(['-n', 'molt-system', 'rollout', 'status', 'deploy/molt-operator', '--timeout=180s'], { timeoutMs: 190_000 });
  return !existed;
}

/** Applies the App on release `rel` and waits until it runs it (installed, or upgraded to it). */
async function timeMolt(ns: string, rel: string): Promise<number> {
  const t0 = Date.now();
  apply(
    `apiVersion: molt.dev/v1alpha1\nkind: App\nmetadata: {name: bench, namespace: ${ns}}\nspec: {release: ${rel}, roles: [{name: db, members: 3}]}\n`,
  );
  await waitFor(
    `molt upgrade to ${rel}`,
    () => {
      const s = JSON.parse(kubectl(['-n', ns, 'get', 'apps.molt.dev', 'bench', '-o', 'json'])).status ?? {};
      return s.release === rel && s.state === 'configured' ? s : undefined;
    },
    300_000,
  );
  return Date.now() - t0;
}

function timeNative(ns: string, tag: string): number {
  const t0 = Date.now();
  apply(nativeDoc(ns, tag));
  kubectl(['-n', ns, 'rollout', 'status', 'statefulset/native', '--timeout=300s'], { timeoutMs: 310_000 });
  return Date.now() - t0;
}

/** Runs `rounds` upgrades on each side (alternating) and reports medians and the ratio. */
export async function benchK8s(_h: unknown, rounds: number): Promise<Record<string, number>> {
  await ensureCluster();
  const work = mkdtempSync(join(tmpdir(), 'molt-bench-k8s-'));
  const ns = `molt-bench-${randomBytes(3).toString('hex')}`;
  const releases: string[] = [];
  let ours = false;
  try {
    await Promise.all(['a', 'b'].map((t) => imageTar(t, join(work, `${t}.tar`))));
    loadImage(join(work, 'a.tar'), join(work, 'b.tar'));
    ours = installOperator(work);
    kubectl(['create', 'namespace', ns]);
    const rel = (i: number) => `${ns}-${i}`;
    for (let i = 0; i <= rounds; i++) {
      apply(releaseDoc(rel(i), `1.0.${i}`, i % 2 ? 'b' : 'a'));
      releases.push(rel(i));
    }
    await timeMolt(ns, rel(0)); // install (its figure is not counted)
    timeNative(ns, 'a');
    const molt: number[] = [];
    const native: number[] = [];
    for (let i = 1; i <= rounds; i++) {
      molt.push(await timeMolt(ns, rel(i)));
      native.push(timeNative(ns, i % 2 ? 'b' : 'a'));
    }
    return {
      'molt operator: 3-member upgrade wall ms (median)': median(molt),
      'native StatefulSet RollingUpdate wall ms (median)': median(native),
      'ratio molt / native (lower is better)': median(molt) / median(native),
    };
  } finally {
    kubectlResult(['-n', ns, 'delete', 'apps.molt.dev', '--all', '--timeout=60s']);
    kubectlResult(['delete', 'namespace', ns, '--wait=false']);
    if (releases.length)
      kubectlResult(['delete', 'releases.molt.dev', ...releases, '--ignore-not-found', '--wait=false']);
    if (ours && otherUsers().length === 0)
      kubectlResult(['delete', '-k', join(ROOT, 'deploy'), '--wait=false', '--ignore-not-found']);
    rmSync(work, { recursive: true, force: true });
    stopClusterIfStarted();
  }
}
