/**
 * Volume snapshot steps: SnapshotVolumes before the pre-upgrade script, RestoreVolumes in a
 * rollback (before the old container starts again, so it never faces data a half-done
 * migration rewrote), PruneSnapshots after success (keeps `spec.upgrade.keepSnapshots` sets).
 */
import { SnapshotError } from '../core/errors.ts';
import { SnapshotFiles, VolumeChangedError, type SnapshotEntry } from '../store/snapshots.ts';
import { appName, manifestOf, requireOld, type StepContext } from './step-context.ts';

/** Saves every named volume of the old container. */
export async function snapshotVolumes(ctx: StepContext): Promise<string> {
  if (!manifestOf(ctx).spec.upgrade.snapshotVolumes)
    return 'volume snapshots are off (spec.upgrade.snapshotVolumes: false)';
  const old = requireOld(ctx).container;
  const volumes = old.mounts.filter((m) => m.type === 'volume').map((m) => m.source);
  if (volumes.length === 0) return 'the app has no volumes';
  // A molt killed while the app was frozen for its copy left it paused: thaw it first.
  if ((await ctx.engine.inspectState(old.id))?.status === 'paused') await ctx.engine.unpauseContainer(old.id);
  const files = new SnapshotFiles(ctx.home);
  const entries = [];
  const frozen: string[] = [];
  for (const volume of volumes) {
    const mountpoint = await ctx.engine.volumeMountpoint(volume);
    if (mountpoint === undefined) throw new SnapshotError(`volume ${volume} of the old container does not exist`);
    const save = () => files.save(appName(ctx), ctx.op.id, volume, mountpoint, ctx.signal);
    entries.push(await saveOrFreeze(ctx, old.id, save, () => frozen.push(volume)));
  }
  ctx.facts.snapshots = entries;
  const pausedNote = frozen.length
    ? `; ${frozen.join(', ')} changed while copied, so copied again with the app paused`
    : '';
  return `saved ${entries.map((e) => `${e.volume} (${mib(e.bytes)})`).join(', ')} to ${files.dir(appName(ctx), ctx.op.id)}${pausedNote}`;
}

/**
 * Copies a volume while the app runs (no downtime). When its files changed during the copy (a
 * database writing), the copy is not one moment's state: it is made again with the app's
 * processes frozen, so it is what a crash at that instant would leave — what databases recover from.
 */
async function saveOrFreeze(
  ctx: StepContext,
  containerId: string,
  save: () => Promise<SnapshotEntry>,
  onFreeze: () => void,
): Promise<SnapshotEntry> {
  try {
    return await save();
  } catch (e) {
    if (!(e instanceof VolumeChangedError)) throw e;
    if ((await ctx.engine.inspectState(containerId))?.status !== 'running') return save();
  }
  onFreeze();
  await ctx.engine.pauseContainer(containerId);
  try {
    return await save();
  } finally {
    await ctx.engine.unpauseContainer(containerId);
  }
}

/** Puts every snapshotted volume back exactly as it was, keeping what it held instead. */
export async function restoreVolumes(ctx: StepContext): Promise<string> {
  const entries = ctx.facts.snapshots ?? [];
  if (entries.length === 0) return 'no snapshots to restore';
  const old = await ctx.engine.inspectContainer(ctx.facts.recreatedOldId ?? requireOld(ctx).container.id);
  if (old?.running) return 'the old container never stopped: its volumes are live and stay as they are';
  const files = new SnapshotFiles(ctx.home);
  const displaced: string[] = [];
  for (const entry of entries) {
    const mountpoint = await ctx.engine.volumeMountpoint(entry.volume);
    if (mountpoint === undefined)
      throw new SnapshotError(
        `volume ${entry.volume} disappeared; it cannot be restored`,
        `Recreate it (\`podman volume create ${entry.volume}\`) and run \`molt recover ${appName(ctx)}\`; the snapshot is ${entry.file}.`,
      );
    displaced.push(await files.restore(entry, mountpoint));
  }
  ctx.facts.displaced = displaced;
  return `restored ${entries.map((e) => e.volume).join(', ')} to their state before the upgrade; what they held is kept in ${displaced.join(', ')}`;
}

/** Deletes snapshot sets beyond the configured number to keep. */
export async function pruneSnapshots(ctx: StepContext): Promise<string> {
  const keep = manifestOf(ctx).spec.upgrade.keepSnapshots;
  const removed = new SnapshotFiles(ctx.home).prune(appName(ctx), keep);
  return removed.length > 0
    ? `removed snapshot sets of operations ${removed.join(', ')} (keeping ${keep})`
    : `nothing to prune (keeping ${keep})`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
