/**
 * The acting side of a release member's volume copies (copy-steps.ts decides): the same
 * claims, Jobs and order as an inline App's (app/copy-actions.ts, whose member-generic
 * primitives these call), journaled in the role's rollout journal before each acts.
 */
import { memberManifest, roleOf } from '../../core/release.ts';
import { RESOURCES } from '../../engines/kubernetes/index.ts';
import {
  copyClaimsOf,
  copyJobOf,
  deleteClaims,
  finishCopy,
  removeJob,
  startCopy,
  type CopyScope,
} from '../app/copy-actions.ts';
import type { RoleJournal } from './template.ts';
import { event, writeJournal, type ReleaseCtx } from './actions.ts';
import type { RoleSet } from './observe.ts';
import type { CopyAction } from './copy-steps.ts';
import type { RoleAction } from './steps.ts';

/** The role's copy scope: the members' spec on the release the rollout started from (its claims are that release's volumes). */
function scopeOf(c: ReleaseCtx, set: RoleSet, j: RoleJournal): CopyScope {
  const from = c.releases.get(j.from);
  if (!from) throw new Error(`release ${j.from} is not known to this pass`);
  const role = roleOf(from, set.role);
  return {
    api: c.api,
    ref: c.ref,
    signal: c.signal,
    copyImage: c.copyImage,
    spec: { ...memberManifest(c.manifest, from, role, 0).spec, volumes: role.volumes },
    generation: j.generation ?? 0,
    from: j.from,
    to: j.to,
    jobs: c.copyJobs,
  };
}

/** Takes one copy action on a role; a Wait while its Job runs. */
export async function actOnCopies(c: ReleaseCtx, set: RoleSet, j: RoleJournal, a: CopyAction): Promise<RoleAction> {
  switch (a.kind) {
    case 'SnapshotVolumes': {
      // One after the other: each writes the role's journal (set.journal follows).
      const waits: string[] = [];
      for (const m of a.members) {
        const w = await copy(c, set, 'snapshot', m);
        if (w) waits.push(w);
      }
      return waits.length ? { kind: 'Wait', message: waits.join('; ') } : a;
    }
    case 'RestoreVolumes': {
      const w = await copy(c, set, 'restore', a.member);
      return w ? { kind: 'Wait', message: w, reason: 'RollingBack' } : a;
    }
    case 'HoldMembers':
      return hold(c, set, j, a);
    case 'ReleaseMembers':
      await scale(c, set, a.replicas);
      await event(
        c,
        'Normal',
        'MemberReleased',
        `StatefulSet ${set.name} back at ${a.replicas} replicas: the restored members start as ${j.from}`,
      );
      return a;
  }
}

/**
 * A member's snapshot or restore: journaled as running, its Job started, and once it succeeded
 * journaled as done. Undefined when done, else what it waits for.
 */
async function copy(
  c: ReleaseCtx,
  set: RoleSet,
  op: 'snapshot' | 'restore',
  member: string,
): Promise<string | undefined> {
  let j = set.journal as RoleJournal;
  const snap = op === 'snapshot';
  const mark = (done: boolean): RoleJournal =>
    snap
      ? { ...j, snapshots: { ...j.snapshots, [member]: done ? 'copied' : 'copying' } }
      : { ...j, restores: { ...j.restores, [member]: done ? 'restored' : 'restoring' } };
  if (snap ? j.snapshots?.[member] === undefined : j.restores?.[member] !== 'restoring') {
    j = mark(false);
    await writeJournal(c, set, j);
  }
  const scope = scopeOf(c, set, j);
  const job = copyJobOf(scope, member, op);
  const copies = copyClaimsOf(scope, member, 'snapshot').join(', ');
  if (job?.succeeded) {
    const sizes = await finishCopy(scope, member, job, () => writeJournal(c, set, mark(true)));
    await event(
      c,
      'Normal',
      snap ? 'SnapshotTaken' : 'VolumesRestored',
      snap
        ? `copied the volumes of ${member} before it leaves ${j.from}: ${copies}${sizes}`
        : `the volumes of ${member} hold again what they held on ${j.from}; what they held on ${j.to} is kept in ${copyClaimsOf(scope, member, 'displaced').join(', ')}`,
    );
    return undefined;
  }
  const name = job?.name ?? (await startCopy(scope, member, op));
  if (!job)
    await event(
      c,
      'Normal',
      snap ? 'SnapshotStarted' : 'RestoreStarted',
      snap
        ? `Job ${name} copies the volumes of ${member} (${j.from}) to ${copies}`
        : `Job ${name} restores the volumes of ${member} from ${copies}`,
    );
  return `${snap ? 'copying' : 'restoring'} the volumes of ${member} (Job ${name})`;
}

async function hold(
  c: ReleaseCtx,
  set: RoleSet,
  j: RoleJournal,
  a: Extract<CopyAction, { kind: 'HoldMembers' }>,
): Promise<RoleAction> {
  const fresh = a.members.filter((m) => j.restores?.[m] === undefined);
  if (fresh.length)
    await writeJournal(c, set, {
      ...j,
      restores: { ...j.restores, ...Object.fromEntries(fresh.map((m) => [m, 'held' as const])) },
    });
  await scale(c, set, a.replicas);
  await event(
    c,
    'Normal',
    'MemberHeld',
    `StatefulSet ${set.name} at ${a.replicas} replicas: ${a.members.join(', ')} stop, and ${j.from} starts only on their restored volumes`,
  );
  return a;
}

async function scale(c: ReleaseCtx, set: RoleSet, replicas: number): Promise<void> {
  await c.api.mergePatch(RESOURCES.statefulsets, c.ref.namespace, set.name, { spec: { replicas } });
  set.replicas = replicas;
}

/** Deletes what copiesToPrune found. */
export async function pruneCopies(c: ReleaseCtx, doomed: { jobs: string[]; claims: string[] }): Promise<void> {
  for (const name of doomed.jobs)
    if (await removeJob(c, name)) await event(c, 'Normal', 'CopyJobRemoved', `deleted Job ${name}`);
  const removed = await deleteClaims(c, doomed.claims);
  if (removed.length)
    await event(
      c,
      'Normal',
      'SnapshotsPruned',
      `deleted the volume copies ${removed.join(', ')} (the roles' upgrade.keepSnapshots)`,
    );
}
