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
import type { AppSpec } from '../../core/model.ts';
import type { CopyJobView, UpgradeJournal } from './world.ts';

type Claim = KubeObject & { spec?: { resources?: { requests?: { storage?: string } }; storageClassName?: string } };

/**
 * What copying one member's volumes needs, whatever runs the member (an inline App's
 * StatefulSet, a role of a release app): the claims and Job are named after the member, the
 * volumes (the claim templates' names) and the operation's generation.
 */
export interface CopyScope {
  api: ActionContext['api'];
  ref: ActionContext['ref'];
  signal: AbortSignal;
  copyImage: () => Promise<string>;
  /** The spec whose pods wrote the volumes (user, groups, placement), its volumes named as the claim templates. */
  spec: AppSpec;
  generation: number;
  from: string;
  to: string;
  /** The operation's copy Jobs as observed. */
  jobs: CopyJobView[];
}

/** Creates the claims and the Job of `op` on `member` (each once: AlreadyExists is fine); the Job's name. */
export async function startCopy(scope: CopyScope, member: string, op: CopyOperation): Promise<string> {
  await createClaims(scope, member, op === 'snapshot' ? 'snapshot' : 'displaced');
  await createJob(scope, member, op);
  return copyJobName(member, scope.generation, op);
}

/** The Job of `op` on `member` as observed, if there is one. */
export function copyJobOf(scope: CopyScope, member: string, op: CopyOperation): CopyJobView | undefined {
  const name = copyJobName(member, scope.generation, op);
  return scope.jobs.find((x) => x.name === name);
}

/**
 * After a succeeded Job: its report's sizes onto the claims, then `journal` records the copy,
 * and only then the Job goes — a restore repeated after the Job is gone would archive the
 * restored volume over what it displaced. The sizes, for an Event.
 */
export async function finishCopy(
  scope: CopyScope,
  member: string,
  job: CopyJobView,
  journal: () => Promise<void>,
): Promise<string> {
  const sizes = await recordBytes(scope, member, job.op === 'snapshot' ? 'snapshot' : 'displaced', job.message);
  await journal();
  await removeJob(scope, job.name);
  return sizes;
}

/** The names of the claims of `kind` of `member` in this operation. */
export function copyClaimsOf(scope: CopyScope, member: string, kind: CopyKind): string[] {
  return namedVolumes(scope.spec.volumes).map((v) => copyClaim(v.name, member, scope.generation, kind));
}

function scopeOf(ctx: ActionContext, j: UpgradeJournal): CopyScope {
  return {
    api: ctx.api,
    ref: ctx.ref,
    signal: ctx.signal,
    copyImage: ctx.copyImage,
    spec: installedOf(ctx).spec,
    generation: j.generation,
    from: j.from,
    to: j.to,
    jobs: ctx.world.copyJobs,
  };
}

/** Copies every volume of `member` to the operation's claims (before its pre-upgrade script). */
export async function snapshotVolumes(ctx: ActionContext, member: string): Promise<Step | undefined> {
  let j = journalOf(ctx);
  if (j.snapshots?.[member] === undefined) {
    j = { ...j, snapshots: { ...j.snapshots, [member]: 'copying' } };
    await writeRecords(ctx, { upgrade: j });
  }
  const scope = scopeOf(ctx, j);
  const job = copyJobOf(scope, member, 'snapshot');
  const claims = copyClaimsOf(scope, member, 'snapshot');
  if (job?.succeeded) {
    const sizes = await finishCopy(scope, member, job, () =>
      writeRecords(ctx, { upgrade: { ...j, snapshots: { ...j.snapshots, [member]: 'copied' } } }),
    );
    await event(
      ctx,
      'Normal',
      'SnapshotTaken',
      'SnapshotVolumes',
      `copied the volumes of ${member} before the upgrade touches them: ${claims.join(', ')}${sizes}`,
    );
    return undefined;
  }
  const name = copyJobName(member, j.generation, 'snapshot');
  if (!job) {
    await startCopy(scope, member, 'snapshot');
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
  const scope = scopeOf(ctx, j);
  const job = copyJobOf(scope, member, 'restore');
  const displaced = copyClaimsOf(scope, member, 'displaced');
  if (job?.succeeded) {
    await finishCopy(scope, member, job, () =>
      writeRecords(ctx, { upgrade: { ...j, restores: { ...j.restores, [member]: 'restored' } } }),
    );
    await event(
      ctx,
      'Normal',
      'VolumesRestored',
      'RestoreVolumes',
      `the volumes of ${member} hold again what they held before the upgrade to ${j.to}; what they held instead is kept in ${displaced.join(', ')}`,
    );
    return undefined;
  }
  const name = copyJobName(member, j.generation, 'restore');
  if (!job) {
    await startCopy(scope, member, 'restore');
    await event(
      ctx,
      'Normal',
      'RestoreStarted',
      'RestoreVolumes',
      `Job ${name} restores the volumes of ${member} from ${copyClaimsOf(scope, member, 'snapshot').join(', ')}`,
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
  const removed = await deleteClaims(ctx, claims);
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

/** Deletes copy claims; the names of those that were there. */
export async function deleteClaims(scope: Pick<CopyScope, 'api' | 'ref'>, claims: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const c of claims) if (await scope.api.delete(RESOURCES.pvcs, scope.ref.namespace, c)) removed.push(c);
  return removed;
}

/** Deletes copy Jobs (and their pods). */
export async function removeJobs(ctx: ActionContext, names: string[]): Promise<void> {
  for (const n of names)
    if (await removeJob(ctx, n)) await event(ctx, 'Normal', 'CopyJobRemoved', 'Cleanup', `deleted Job ${n}`);
}

export function removeJob(ctx: Pick<CopyScope, 'api' | 'ref'>, name: string): Promise<boolean> {
  return ctx.api.delete(RESOURCES.jobs, ctx.ref.namespace, name, { propagationPolicy: 'Background' });
}

/** True while a member is held down for a restore (a template written now keeps 0 replicas). */
export function holding(j: UpgradeJournal | undefined): boolean {
  return Object.values(j?.restores ?? {}).some((r) => r === 'held' || r === 'restoring');
}

async function scale(ctx: ActionContext, replicas: number): Promise<void> {
  await ctx.api.mergePatch(RESOURCES.statefulsets, ctx.ref.namespace, statefulSetName(ctx.ref.name), {
    spec: { replicas },
  });
}

async function createClaims(scope: CopyScope, member: string, kind: CopyKind): Promise<void> {
  for (const { name: volume } of namedVolumes(scope.spec.volumes)) {
    const source = await scope.api.get<Claim>(
      RESOURCES.pvcs,
      scope.ref.namespace,
      memberClaim(volume, member),
      scope.signal,
    );
    if (!source)
      throw new SnapshotError(
        `the volume claim ${memberClaim(volume, member)} of ${member} does not exist; its volume cannot be copied`,
        "Check the StatefulSet's claims (kubectl get pvc); set spec.upgrade.snapshotVolumes: false to upgrade without copies.",
      );
    const size = source.spec?.resources?.requests?.storage;
    const storageClassName = source.spec?.storageClassName;
    await createIfMissing(
      scope,
      RESOURCES.pvcs,
      copyClaimFor({
        app: scope.ref,
        member,
        volume,
        generation: scope.generation,
        kind,
        from: scope.from,
        to: scope.to,
        ...(size ? { size } : {}),
        ...(storageClassName ? { storageClassName } : {}),
      }),
    );
  }
}

async function createJob(scope: CopyScope, member: string, op: CopyOperation): Promise<void> {
  const image = await scope.copyImage();
  const job = copyJobFor({
    app: scope.ref,
    spec: scope.spec,
    member,
    generation: scope.generation,
    op,
    image,
    ...(op === 'snapshot' ? { besidePod: member } : {}),
  });
  await createIfMissing(scope, RESOURCES.jobs, job);
}

async function createIfMissing(
  scope: CopyScope,
  type: (typeof RESOURCES)[keyof typeof RESOURCES],
  obj: KubeObject,
): Promise<void> {
  try {
    await scope.api.create(type, scope.ref.namespace, obj);
  } catch (e) {
    if (!isStatus(e, 409)) throw e;
  }
}

/** Writes the archives' sizes (the Job's report) onto the copy claims; returns them for the Event. */
async function recordBytes(
  scope: CopyScope,
  member: string,
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
    await scope.api
      .mergePatch(RESOURCES.pvcs, scope.ref.namespace, copyClaim(volume, member, scope.generation, kind), {
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
