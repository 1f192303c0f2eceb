/**
 * The operator's entry point (the container image runs it):
 *
 *   node src/operator/main.ts [--kubeconfig FILE] [--context NAME] [--lease-namespace NS]
 *                             [--health-address :8081] [--workers 4] [--identity NAME]
 *                             [--instance NAME]
 *
 * --instance NAME: reconcile only Apps/UpgradeTasks labelled molt.dev/operator-instance=NAME,
 * with the Lease molt-operator-NAME (runtime/instance.ts); without it, only unlabelled ones.
 * In a pod it uses the service account; outside it uses the kubeconfig (KUBECONFIG or
 * ~/.kube/config) — handy for running it against the test cluster from a shell.
 */
import { parseArgs } from 'node:util';
import { logLine, runOperator } from './manager.ts';
import { validInstance } from './runtime/instance.ts';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    'lease-namespace': { type: 'string' },
    'health-address': { type: 'string' },
    workers: { type: 'string' },
    identity: { type: 'string' },
    instance: { type: 'string' },
  },
  strict: true,
});

try {
  const code = await runOperator({
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context ? { context: values.context } : {}),
    ...(values['lease-namespace'] ? { leaseNamespace: values['lease-namespace'] } : {}),
    ...(values['health-address'] ? { healthAddress: values['health-address'] } : {}),
    ...(values.workers ? { workers: Number(values.workers) } : {}),
    ...(values.identity ? { identity: values.identity } : {}),
    ...(values.instance !== undefined ? { instance: validInstance(values.instance) } : {}),
  });
  process.exit(code);
} catch (e) {
  logLine({ level: 'error', msg: 'the operator could not start', error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
}
