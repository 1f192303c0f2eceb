/**
 * The acting side of volume copies (volume-copy.ts): each step journals what it is about to
 * do, then creates its claims and Job by name (AlreadyExists is fine), and when the Job has
 * succeeded records that in the journal and removes the Job. Repeating a step after a crash
 * repeats nothing that was done: the names are the operation's, the journal says how far.
 */
import { SnapshotError } from '../../core/errors.ts';
import { namedVolumes } from '../../core/settings.ts';
import { isStatus, RESOURCES, type KubeObject } from '../../engines/kubernetes/index.ts';
import type { CopyReport } from '../copy/layout.ts';
import type { Step } from './decide.ts';
import { event, installedOf, journalOf, writeRecords, type ActionContext } from './actions.ts';
import { statefulSetName } from './names.ts';
import {
  COPY_ANNOTATIONS,
  copyClaim,
  copyClaimFor,
  copyJobFor,
  copyJobName,
  memberClaim,
  type CopyKind,
  type CopyOperation,
} from './volume-copy.ts';
import type { UpgradeJournal } from './world.ts';

type Claim = KubeObject & { spec?: { resources?: { requests?: { storage?: string } }; storageClassName?: string } };

/** Copies every volume of `member` to the operation's claims (before its pre-upgrade script). */
export async function snapshotVolumes(ctx: ActionContext, member: string): Promise<Step | undefined> {
  let j = journalOf(ctx);
  if (j.snapshots?.[member] === undefined) {
    j = { ...j, snapshots: { ...j.snapshots, [member]: 'copying' } };
    await writeRecords(ctx, { upgrade: j });
  }
  const name = copyJobName(member, j.generation, 'snapshot');
  const job = ctx.world.copyJobs.find((x) => x.name === name);
  const claims = volumesOf(ctx).map((v) => copyClaim(v, member, j.generation, 'snapshot'));
  if (job?.succeeded) {
    const sizes = await recordBytes(ctx, member, j.generation, 'snapshot', job.message);
    await writeRecords(ctx, { upgrade: { ...j, snapshots: { ...j.snapshots, [member]: 'copied' } } });
    await removeJob(ctx, name);
    await event(
      ctx,
      'Normal',
      'SnapshotTaken',
      'SnapshotVolumes',
      `copied the volumes of ${member} before the upgrade touches them: ${claims.join(', ')}${sizes}`,
    );
    return undefined;
  }
  if (!job) {
    await createClaims(ctx, member, j, 'snapshot');
    await createJob(ctx, member, j, 'snapshot');
    await event(
      ctx,
      'Normal',
      'SnapshotStarted',
      'SnapshotVolumes',
      `Job ${name} copies the volumes of ${member} (${j.from}) to ${claims.join(', ')}`,
    );
  }
  return wait('Upgrading', `copying the volumes of ${member} (Job ${name})`);
}

/** Scales the StatefulSet to 0 so the member's pod goes and none comes back until its volumes are restored. */
export async function holdMember(ctx: ActionContext, member: string): Promise<undefined> {
  const j = journalOf(ctx);
  if (j.restores?.[member] === undefined)
    await writeRecords(ctx, { upgrade: { ...j, restores: { ...j.restores, [member]: 'held' } } });
  await scale(ctx, 0);
  await event(
    ctx,
    'Normal',
    'MemberHeld',
    'RollBackMember',
    `StatefulSet ${statefulSetName(ctx.ref.name)} at 0 replicas: ${member} stops, and ${j.from} starts only on its restored volumes`,
  );
  return undefined;
}

/** Keeps what the member's volumes hold aside, then puts the copy taken before the upgrade back. */
export async function restoreVolumes(ctx: ActionContext, member: string): Promise<Step | undefined> {
  let j = journalOf(ctx);
  if (j.restores?.[member] !== 'restoring') {
    j = { ...j, restores: { ...j.restores, [member]: 'restoring' } };
    await writeRecords(ctx, { upgrade: j });
  }
  const name = copyJobName(member, j.generation, 'restore');
  const job = ctx.world.copyJobs.find((x) => x.name === name);
  const displaced = volumesOf(ctx).map((v) => copyClaim(v, member, j.generation, 'displaced'));
  if (job?.succeeded) {
    await recordBytes(ctx, member, j.generation, 'displaced', job.message);
    await writeRecords(ctx, { upgrade: { ...j, restores: { ...j.restores, [member]: 'restored' } } });
    await removeJob(ctx, name);
    await event(
      ctx,
      'Normal',
      'VolumesRestored',
      'RestoreVolumes',
      `the volumes of ${member} hold again what they held before the upgrade to ${j.to}; what they held instead is kept in ${displaced.join(', ')}`,
    );
    return undefined;
  }
  if (!job) {
    await createClaims(ctx, member, j, 'displaced');
    await createJob(ctx, member, j, 'restore');
    await event(
      ctx,
      'Normal',
      'RestoreStarted',
      'RestoreVolumes',
      `Job ${name} restores the volumes of ${member} from ${volumesOf(ctx)
        .map((v) => copyClaim(v, member, j.generation, 'snapshot'))
        .join(', ')}`,
    );
  }
  return wait('RollingBack', `restoring the volumes of ${member} (Job ${name})`);
}

/** Back to one replica: the member starts again (the old version, on its restored volumes). */
export async function releaseMember(ctx: ActionContext, member: string): Promise<undefined> {
  await scale(ctx, 1);
  await event(
    ctx,
    'Normal',
    'MemberReleased',
    'RollBackMember',
    `StatefulSet ${statefulSetName(ctx.ref.name)} back at 1 replica: ${member} starts as ${installedOf(ctx).version}`,
  );
  return undefined;
}

/** Deletes the copy claims keepSnapshots no longer keeps. */
export async function pruneSnapshots(ctx: ActionContext, claims: string[]): Promise<undefined> {
  const removed: string[] = [];
  for (const c of claims) if (await ctx.api.delete(RESOURCES.pvcs, ctx.ref.namespace, c)) removed.push(c);
  if (removed.length)
    await event(
      ctx,
      'Normal',
      'SnapshotsPruned',
      'PruneSnapshots',
      `deleted the volume copies ${removed.join(', ')} (spec.upgrade.keepSnapshots)`,
    );
  return undefined;
}

/** Deletes copy Jobs (and their pods). */
export async function removeJobs(ctx: ActionContext, names: string[]): Promise<void> {
  for (const n of names)
    if (await removeJob(ctx, n)) await event(ctx, 'Normal', 'CopyJobRemoved', 'Cleanup', `deleted Job ${n}`);
}

function removeJob(ctx: ActionContext, name: string): Promise<boolean> {
  return ctx.api.delete(RESOURCES.jobs, ctx.ref.namespace, name, { propagationPolicy: 'Background' });
}

/** True while a member is held down for a restore (a template written now keeps 0 replicas). */
export function holding(j: UpgradeJournal | undefined): boolean {
  return Object.values(j?.restores ?? {}).some((r) => r === 'held' || r === 'restoring');
}

function volumesOf(ctx: ActionContext): string[] {
  return namedVolumes(installedOf(ctx).spec.volumes).map((v) => v.name);
}

async function scale(ctx: ActionContext, replicas: number): Promise<void> {
  await ctx.api.mergePatch(RESOURCES.statefulsets, ctx.ref.namespace, statefulSetName(ctx.ref.name), {
    spec: { replicas },
  });
}

async function createClaims(ctx: ActionContext, member: string, j: UpgradeJournal, kind: CopyKind): Promise<void> {
  for (const volume of volumesOf(ctx)) {
    const source = await ctx.api.get<Claim>(RESOURCES.pvcs, ctx.ref.namespace, memberClaim(volume, member), ctx.signal);
    if (!source)
      throw new SnapshotError(
        `the volume claim ${memberClaim(volume, member)} of ${member} does not exist; its volume cannot be copied`,
        "Check the StatefulSet's claims (kubectl get pvc); set spec.upgrade.snapshotVolumes: false to upgrade without copies.",
      );
    const size = source.spec?.resources?.requests?.storage;
    const storageClassName = source.spec?.storageClassName;
    await createIfMissing(
      ctx,
      RESOURCES.pvcs,
      copyClaimFor({
        app: ctx.ref,
        member,
        volume,
        generation: j.generation,
        kind,
        from: j.from,
        to: j.to,
        ...(size ? { size } : {}),
        ...(storageClassName ? { storageClassName } : {}),
      }),
    );
  }
}

async function createJob(ctx: ActionContext, member: string, j: UpgradeJournal, op: CopyOperation): Promise<void> {
  const image = await ctx.copyImage();
  const job = copyJobFor({
    app: ctx.ref,
    spec: installedOf(ctx).spec,
    member,
    generation: j.generation,
    op,
    image,
    ...(op === 'snapshot' ? { besidePod: member } : {}),
  });
  await createIfMissing(ctx, RESOURCES.jobs, job);
}

async function createIfMissing(
  ctx: ActionContext,
  type: (typeof RESOURCES)[keyof typeof RESOURCES],
  obj: KubeObject,
): Promise<void> {
  try {
    await ctx.api.create(type, ctx.ref.namespace, obj);
  } catch (e) {
    if (!isStatus(e, 409)) throw e;
  }
}

/** Writes the archives' sizes (the Job's report) onto the copy claims; returns them for the Event. */
async function recordBytes(
  ctx: ActionContext,
  member: string,
  generation: number,
  kind: CopyKind,
  message: string | undefined,
): Promise<string> {
  let report: CopyReport | undefined;
  try {
    report = message ? (JSON.parse(message) as CopyReport) : undefined;
  } catch {
    report = undefined;
  }
  if (!report?.volumes) return '';
  const parts: string[] = [];
  for (const [volume, r] of Object.entries(report.volumes)) {
    await ctx.api
      .mergePatch(RESOURCES.pvcs, ctx.ref.namespace, copyClaim(volume, member, generation, kind), {
        metadata: { annotations: { [COPY_ANNOTATIONS.bytes]: String(r.bytes) } },
      })
      .catch((e: unknown) => {
        if (!isStatus(e, 404)) throw e;
      });
    parts.push(`${volume} ${r.bytes} bytes${r.notKept ? ` (${r.notKept} owner(s) not kept: see the Job's log)` : ''}`);
  }
  return ` (${parts.join(', ')})`;
}

function wait(reason: 'Upgrading' | 'RollingBack', message: string): Step {
  return { kind: 'Wait', reason, message, afterMs: 2000 };
}
