// The conformance scenarios (scenarios.ts) on the test cluster (test/k8s): the molt CLI with
// --kubeconfig, and an operator of this checkout as a local process (`--instance`, so it acts
// on this file's App alone) that reads image labels from the test registry. The App's pods
// pull with the imagePullSecret `pull` the manifest names.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { moltLimitMs, harnessWaitMs } from '../command-limit.ts';
import { run, treeChecksum } from '../e2e/harness.ts';
import { ensureCluster, kubectl, kubectlResult, loadImage, stopClusterIfStarted } from '../k8s/cluster.ts';
import { buildOperatorImage, startLocalOperator, type LocalOperator } from '../k8s/operator.ts';
import { acquireRegistry, createPullSecret, releaseRegistry } from '../k8s/registry.ts';
import type { Engine } from './engine.ts';
import { K8S_RESTORES_VOLUMES } from './exceptions.ts';
import { conformanceSuite } from './scenarios.ts';

const MOLT = fileURLToPath(new URL('../../bin/molt', import.meta.url));

conformanceSuite(async (): Promise<Engine> => {
  const { kubeconfig } = await ensureCluster();
  const id = randomBytes(3).toString('hex');
  const ns = `molt-conf-${id}`;
  const home = mkdtempSync(join(tmpdir(), 'molt-conformance-k8s-home-'));
  let operator: LocalOperator | undefined;
  let registry: ReturnType<typeof acquireRegistry> | undefined;
  const close = async (): Promise<void> => {
    // The App goes first, while its operator runs to remove its finalizer; then the operator.
    kubectlResult(['-n', ns, 'delete', 'apps.molt.dev', '--all', '--timeout=90s']);
    operator?.stop();
    kubectlResult(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
    if (registry) releaseRegistry();
    rmSync(home, { recursive: true, force: true });
    stopClusterIfStarted();
  };
  try {
    registry = acquireRegistry();
    kubectl(['create', 'namespace', ns]);
    createPullSecret(registry, ns);
    operator = startLocalOperator({
      kubeconfig,
      instance: `conf-${id}`,
      leaseNamespace: ns,
      env: {
        MOLT_REGISTRY_CA: registry.ca,
        ...(K8S_RESTORES_VOLUMES ? { MOLT_WORKER_IMAGE: moltImage(home, id) } : {}),
      },
    });
  } catch (error) {
    await close();
    throw error;
  }
  const op = operator;
  const molt = async (args: string[]) => {
    const all = ['--kubeconfig', kubeconfig, '-n', ns, ...args];
    const limitMs = moltLimitMs(all);
    const env = { ...process.env, NO_COLOR: '1', KUBECONFIG: '', MOLT_HOME: home };
    const r = await run(MOLT, all, env, undefined, harnessWaitMs(limitMs, 300_000), { limitMs });
    // What the operator did is the first thing to look at when a scenario fails.
    return r.code === 0 ? r : { ...r, stderr: `${r.stderr}\noperator log:\n${op.log().slice(-4000)}` };
  };
  const pod = (app: string) => JSON.parse(kubectl(['-n', ns, 'get', 'pod', `${app}-0`, '-o', 'json']));
  return {
    name: 'kubernetes',
    site: { registry, network: { name: 'conformance', subnet: '10.90.250.0/24' }, labels: op.label },
    molt,
    exec: async (app, cmd) => kubectl(['-n', ns, 'exec', `${app}-0`, '-c', 'main', '--', 'sh', '-c', cmd]),
    instance: async (app) => {
      const p = pod(app);
      const main = p.status.containerStatuses.find((c: { name: string }) => c.name === 'main');
      return `${p.metadata.uid} ${main?.state?.running?.startedAt} restarts=${main?.restartCount}`;
    },
    volumeChecksum: async (app) => {
      const pv = kubectl(['-n', ns, 'get', 'pvc', `data-${app}-0`, '-o', 'jsonpath={.spec.volumeName}']);
      return treeChecksum(kubectl(['get', 'pv', pv, '-o', 'jsonpath={.spec.hostPath.path}']));
    },
    close,
  };
});

/**
 * Data-safe rollback copies volumes with Jobs of molt's own image. A local operator process
 * has no image of its own: it is told one, as for UpgradeTask worker Jobs (MOLT_WORKER_IMAGE;
 * adjust here if the copy Jobs learn it otherwise). The image is built from this checkout
 * and loaded into the node.
 */
function moltImage(dir: string, id: string): string {
  const image = `localhost/molt-operator:conformance-${id}`;
  loadImage(buildOperatorImage(dir, image));
  return image;
}
