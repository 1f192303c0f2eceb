/**
 * `molt snapshots NAME` on a cluster: the volume copies the operator keeps for the App —
 * one claim per volume and upgrade (`<volume>-<member>-molt-g<generation>`), and beside it
 * what a rollback displaced (`…-displaced`, listed as `<volume>.displaced` like the local
 * engine's file). OPERATION is the upgrade's generation; FILE the claim holding the archive.
 */
import { RESOURCES, type KubeObject } from '../engines/kubernetes/index.ts';
import { LABELS } from '../operator/app/names.ts';
import { COPY_COMPONENT } from '../operator/app/volume-copy.ts';
import { copyClaimView, type CopyClaimView } from '../operator/app/world.ts';
import type { SnapshotSet } from '../store/snapshots.ts';
import type { GlobalOptions } from './context.ts';
import { connect } from './kube-connect.ts';
import { KubeAppNotFoundError } from './kube-errors.ts';
import { outputFormat } from './output.ts';
import { renderSnapshots } from './render.ts';

/** The copies grouped by operation (generation), oldest first, as `molt snapshots` shows sets. */
export function snapshotSets(copies: CopyClaimView[]): (SnapshotSet & { from?: string; to?: string })[] {
  const generations = [...new Set(copies.map((c) => c.generation))].sort((a, b) => a - b);
  return generations.map((operation) => {
    const mine = copies
      .filter((c) => c.generation === operation)
      .sort((a, b) => `${a.member} ${a.volume} ${a.kind}`.localeCompare(`${b.member} ${b.volume} ${b.kind}`));
    const first = mine[0];
    const createdAt = mine.map((c) => c.createdAt).sort()[0] ?? '';
    return {
      operation,
      dir: `generation ${operation}`,
      createdAt,
      ...(first?.from ? { from: first.from } : {}),
      ...(first?.to ? { to: first.to } : {}),
      entries: mine.map((c) => ({
        volume: `${c.volume}${c.kind === 'displaced' ? '.displaced' : ''}${mine.some((o) => o.member !== c.member) ? ` (${c.member})` : ''}`,
        file: `pvc/${c.name}`,
        bytes: c.bytes ?? 0,
      })),
    };
  });
}

export async function kubeSnapshotsCommand(name: string, opts: GlobalOptions & { output: string }): Promise<number> {
  const format = await outputFormat(opts.output, ['table', 'json', 'yaml']);
  const t = await connect(opts);
  if (!(await t.api.get<KubeObject>(RESOURCES.apps, t.namespace, name)))
    throw new KubeAppNotFoundError(name, t.namespace);
  const claims = await t.api.list<KubeObject>(RESOURCES.pvcs, t.namespace, {
    labelSelector: `${LABELS.app}=${name},${LABELS.component}=${COPY_COMPONENT.claim}`,
  });
  const copies = claims.items.map(copyClaimView).filter((c) => c !== undefined);
  process.stdout.write(renderSnapshots(snapshotSets(copies), format));
  return 0;
}
