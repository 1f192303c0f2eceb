/**
 * Connecting the CLI to a cluster: the target of --kubeconfig/--context/-n, then one discovery
 * request that proves the API server answers and serves molt's API group — so a wrong context,
 * an unreachable server or missing CRDs fail once, clearly, before anything is sent.
 */
import { isStatus, type KubeObject } from '../engines/kubernetes/index.ts';
import type { GlobalOptions } from './context.ts';
import { CrdsNotInstalledError } from './kube-errors.ts';
import { kubeTarget, type KubeTarget } from './kube-target.ts';

/** An App or Release object as the API returns it. */
export interface MoltObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** The target, checked: the API server answers and molt.dev/v1alpha1 serves `resources` (by default apps and releases). */
export async function connect(
  opts: GlobalOptions,
  resources: readonly string[] = ['apps', 'releases'],
): Promise<KubeTarget> {
  const target = kubeTarget(opts);
  let list: { resources?: { name: string }[] };
  try {
    list = await target.client.request({
      method: 'GET',
      path: '/apis/molt.dev/v1alpha1',
      operation: 'discover molt.dev/v1alpha1',
    });
  } catch (e) {
    if (isStatus(e, 404))
      throw new CrdsNotInstalledError(target.client.server, 'the API group molt.dev/v1alpha1 is not served');
    throw e;
  }
  const names = new Set((list.resources ?? []).map((r) => r.name));
  const missing = resources.filter((r) => !names.has(r));
  if (missing.length)
    throw new CrdsNotInstalledError(target.client.server, `molt.dev/v1alpha1 has no ${missing.join(', ')}`);
  return target;
}

/** The command line that shows the App, for hints (same cluster flags). */
export function watchCommand(opts: GlobalOptions, namespace: string, name: string): string {
  const flags = [
    opts.kubeconfig ? `--kubeconfig ${opts.kubeconfig}` : '',
    opts.context ? `--context ${opts.context}` : '',
    opts.inCluster ? '--in-cluster' : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `molt ${flags} -n ${namespace} get app ${name}`;
}

/** The object as kubectl prints it: without managedFields. */
export function printable(obj: MoltObject): MoltObject {
  const { managedFields: _m, ...metadata } = obj.metadata as KubeObject['metadata'] & { managedFields?: unknown };
  return { ...obj, metadata };
}
