/**
 * Which engine a command talks to. Without cluster flags molt works on the local engine
 * (Podman/Docker) and its SQLite home; with `--kubeconfig`, `--context` or `--in-cluster` the
 * same commands work through molt's custom resources on a Kubernetes cluster, as kubectl would
 * (`-n/--namespace`, else the context's namespace; in a pod, the pod's).
 */
import { KubeClient, ResourceApi } from '../engines/kubernetes/index.ts';
import { InvalidInputError } from '../core/errors.ts';
import type { ManifestDocument } from '../core/manifest.ts';
import type { GlobalOptions } from './context.ts';

/** The field manager of every write the CLI makes (server-side apply, patches). */
export const CLI_FIELD_MANAGER = 'molt-cli';

/** A cluster and the namespace commands act in. */
export interface KubeTarget {
  client: KubeClient;
  api: ResourceApi;
  namespace: string;
}

/** The cluster of `--kubeconfig`/`--context` (or the pod's service account with `--in-cluster`). */
export function kubeTarget(opts: GlobalOptions): KubeTarget {
  const client = KubeClient.load({
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
  });
  return { client, api: new ResourceApi(client, CLI_FIELD_MANAGER), namespace: opts.namespace ?? client.namespace };
}

/**
 * Documents whose metadata.namespace differs from an explicit -n are refused before anything
 * is sent (kubectl's rule). Releases are cluster-wide: their namespace is ignored, as kubectl does.
 */
export function requireSameNamespace(docs: readonly ManifestDocument[], flag: string | undefined): void {
  const clash = docs.filter(
    (d) => d.kind !== 'Release' && flag !== undefined && d.namespace && d.namespace.name !== flag,
  );
  if (clash.length === 0) return;
  throw new InvalidInputError(
    clash.map((d) => ({
      file: d.file,
      line: d.namespace?.line,
      column: d.namespace?.column,
      field: 'metadata.namespace',
      message: `"${d.namespace?.name}" does not match --namespace "${flag}" (nothing was applied)`,
    })),
    `Pass -n ${clash[0]?.namespace?.name}, or remove metadata.namespace from the document.`,
  );
}
