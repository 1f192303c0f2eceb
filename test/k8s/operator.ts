/**
 * The molt operator as the end-to-end tests install it on the test cluster: its image built
 * by deploy/image/build under a tag of the test run's own (a concurrent run, or a stale :dev,
 * never swaps the code under a test), installed from deploy/ with kustomize into molt-system,
 * and removed again by the last test process that uses the cluster.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSTANCE_LABEL } from '../../src/operator/runtime/instance.ts';
import { apply, kubectl, kubectlResult, otherUsers, waitFor } from './cluster.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The namespace deploy/ installs the operator into. */
export const OPERATOR_NS = 'molt-system';

/** Builds the operator image tagged `image` into `dir`/operator.tar; returns the tar's path. */
export function buildOperatorImage(dir: string, image: string): string {
  return execFileSync(join(ROOT, 'deploy/image/build'), [join(dir, 'operator.tar')], {
    encoding: 'utf8',
    env: { ...process.env, MOLT_OPERATOR_IMAGE: image },
  }).trim();
}

/**
 * Installs deploy/ with the operator running `image` (loaded already), waits until the CRDs
 * named are Established and the Deployment rolled out. Returns true when this call installed
 * it (it was not there), so `removeOperatorIfLast` knows whether the removal is ours.
 */
export async function installOperator(image: string, crds: string[]): Promise<boolean> {
  await waitFor(
    `namespace ${OPERATOR_NS} of an earlier run to finish terminating`,
    () => {
      const r = kubectlResult(['get', 'namespace', OPERATOR_NS, '-o', 'jsonpath={.status.phase}']);
      return r.status !== 0 || r.stdout !== 'Terminating' ? true : undefined;
    },
    180_000,
  );
  const existed = kubectlResult(['-n', OPERATOR_NS, 'get', 'deploy', 'molt-operator']).status === 0;
  const manifests = kubectl(['kustomize', join(ROOT, 'deploy')]);
  if (!manifests.includes('image: localhost/molt-operator:dev'))
    throw new Error('deploy/ no longer names localhost/molt-operator:dev: update test/k8s/operator.ts');
  apply(manifests.replaceAll('image: localhost/molt-operator:dev', `image: ${image}`));
  kubectl(['wait', '--for=condition=Established', ...crds.map((c) => `crd/${c}`), '--timeout=60s']);
  kubectl(['-n', OPERATOR_NS, 'rollout', 'status', 'deploy/molt-operator', '--timeout=180s'], { timeoutMs: 190_000 });
  return !existed;
}

/** Removes deploy/ when this process installed it and no other test process uses the cluster. */
export function removeOperatorIfLast(installedByUs: boolean): void {
  if (installedByUs && otherUsers().length === 0)
    kubectlResult(['delete', '-k', join(ROOT, 'deploy'), '--wait=false', '--ignore-not-found']);
}

/** An operator of this checkout running as a local process (`--instance`), and its log. */
export interface LocalOperator {
  /** The label that hands an App to it: `molt.dev/operator-instance: <instance>`. */
  readonly label: Record<string, string>;
  /** The last 20 kB of its stderr. */
  log(): string;
  stop(): void;
}

/**
 * Starts `src/operator/main.ts --instance INSTANCE` against the cluster: it reconciles only
 * the objects labelled for it (so it never meets another test's, nor the in-cluster
 * operator's), with its Lease in `leaseNamespace`. Applies the CRDs first. `env` adds to its
 * environment (MOLT_REGISTRY_CA to read image labels from the test registry).
 */
export function startLocalOperator(o: {
  kubeconfig: string;
  instance: string;
  leaseNamespace: string;
  env?: Record<string, string>;
}): LocalOperator {
  for (const f of ['apps.molt.dev.yaml', 'releases.molt.dev.yaml', 'upgradetasks.molt.dev.yaml'])
    apply(readFileSync(join(ROOT, 'deploy/crds', f), 'utf8'));
  kubectl(['wait', '--for=condition=Established', 'crd/apps.molt.dev', '--timeout=60s']);
  const args = [
    '--disable-warning=ExperimentalWarning',
    join(ROOT, 'src/operator/main.ts'),
    '--kubeconfig',
    o.kubeconfig,
    '--instance',
    o.instance,
    '--identity',
    o.instance,
    '--lease-namespace',
    o.leaseNamespace,
    '--health-address',
    '127.0.0.1:0',
    '--workers',
    '2',
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env };
  delete env['NODE_TEST_CONTEXT'];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    log = (log + d).slice(-20000);
  });
  return {
    label: { [INSTANCE_LABEL]: o.instance },
    log: () => log,
    stop: () => void child.kill('SIGTERM'),
  };
}
