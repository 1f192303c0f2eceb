/**
 * Data-safe rollback for the members of a release app, the pure part (the inline App's is in
 * app/decide.ts; the objects are the same, app/volume-copy.ts). Upgrading, a member's volumes
 * are copied before its pod is replaced onto the new release. Rolling back, once the role's
 * template runs the old release again, every touched member with a copy that left the old
 * release is held down (the StatefulSet scaled below its ordinal: the touched members are the
 * highest ordinals), its pod must be gone, its volumes are kept aside and its copy put back;
 * only then is the role scaled back and the old release starts — on the data it left.
 */
import type { Reason } from '../../core/policy/index.ts';
import { rolloutOrder } from '../../core/release.ts';
import { prunable } from '../app/decide.ts';
import { snapshotsOn } from '../app/volume-copy.ts';
import type { CopyClaimView, CopyJobView } from '../app/world.ts';
import type { InstalledRelease } from './template.ts';
import type { RoleAction, RoleView } from './steps.ts';

/** The copy actions on a role. */
export type CopyAction =
  | { kind: 'SnapshotVolumes'; members: string[] }
  | { kind: 'HoldMembers'; members: string[]; replicas: number }
  | { kind: 'RestoreVolumes'; ordinal: number; member: string }
  | { kind: 'ReleaseMembers'; replicas: number };

/** What a role's copies look like to a pass; absent when the rollout keeps no copies (snapshotVolumes off, or a journal of an operator that had none). */
export interface RoleCopies {
  /** The role's StatefulSet: a member is `<set>-<ordinal>`. */
  setName: string;
  /** The operation (journal.generation). */
  generation: number;
  /** This rollout copies the volumes before it replaces a member (the new release's role: snapshotVolumes and volumes). */
  snapshot: boolean;
  /** The StatefulSet's replicas now. */
  replicas: number;
  /** The app's copy Jobs. */
  jobs: CopyJobView[];
}

/** A rollback's hold/restore/release step for the role, or undefined when there is none to take. */
export function restoreAction(v: RoleView): RoleAction | undefined {
  const c = v.copies;
  const j = v.journal;
  if (!c || j.state !== 'RollingBack' || v.templateRelease !== j.from) return undefined;
  const restores = j.restores ?? {};
  const name = (o: number) => `${c.setName}-${o}`;
  const pending = j.touched.filter((o) => {
    const r = restores[name(o)];
    if (r === 'held' || r === 'restoring') return true;
    if (r !== undefined || j.snapshots?.[name(o)] !== 'copied') return false;
    // A touched member still on the old release never ran the new one: its volumes are live.
    const pod = v.pods.get(o);
    return !pod || pod.release !== j.from;
  });
  if (pending.length === 0) {
    const held = Object.keys(restores).length > 0;
    return held && c.replicas < v.members ? { kind: 'ReleaseMembers', replicas: v.members } : undefined;
  }
  const floor = Math.min(...pending);
  if (pending.some((o) => restores[name(o)] === undefined) || c.replicas > floor)
    return { kind: 'HoldMembers', members: pending.map(name), replicas: floor };
  for (const o of [...pending].sort((a, b) => b - a)) {
    if (v.pods.has(o)) return wait('RollingBack', `waiting for pod ${name(o)} to stop before its volumes are restored`);
    const job = copyJob(c, name(o), 'restore');
    if (job?.failed)
      return wait(
        'RollbackStuck',
        `restoring the volumes of ${name(o)} failed (Job ${job.name}${job.message ? `: ${job.message}` : ''}); the member stays down — fix the cause and delete the Job to try again`,
      );
    return { kind: 'RestoreVolumes', ordinal: o, member: name(o) };
  }
  return undefined;
}

/**
 * Before `replace` moves a member onto the new release: its copy, when it has none yet (or the
 * copy's failure). With maxUnavailable > 1 the members that may be replaced together with it
 * (the next ones in rollout order) are copied at the same time, so a copy never serializes
 * what the strategy lets run at once.
 */
export function snapshotAction(
  v: RoleView,
  replace: Extract<RoleAction, { kind: 'DeletePod' }>,
): RoleAction | undefined {
  const c = v.copies;
  const j = v.journal;
  if (!c?.snapshot || replace.revert || j.snapshots?.[replace.pod] === 'copied') return undefined;
  const order = rolloutOrder(v.members, v.partition);
  const along = order
    .slice(order.indexOf(replace.ordinal) + 1)
    .filter((o) => {
      const pod = v.pods.get(o);
      return pod && !pod.terminating && pod.release !== j.to && j.snapshots?.[pod.name] !== 'copied';
    })
    .slice(0, Math.max(1, v.maxUnavailable ?? 1) - 1)
    .map((o) => ({ ordinal: o, member: `${c.setName}-${o}` }));
  const batch = [{ ordinal: replace.ordinal, member: replace.pod }, ...along];
  for (const m of batch) {
    const job = copyJob(c, m.member, 'snapshot');
    if (job?.failed)
      return {
        kind: 'Fail',
        ordinal: m.ordinal,
        reason: 'SnapshotFailed',
        message: `copying the volumes of ${m.member} (Job ${job.name}) failed${job.message ? `: ${job.message}` : ''}`,
      };
  }
  return { kind: 'SnapshotVolumes', members: batch.map((m) => m.member) };
}

function copyJob(c: RoleCopies, member: string, op: CopyJobView['op']): CopyJobView | undefined {
  return c.jobs.find((x) => x.member === member && x.generation === c.generation && x.op === op);
}

function wait(reason: Reason, message: string): RoleAction {
  return { kind: 'Wait', message, reason };
}

/** True when the role's new release copies a member's volumes before replacing it. */
export function roleSnapshots(release: InstalledRelease['release'] | undefined, role: string): boolean {
  const spec = release?.spec.roles.find((r) => r.name === role);
  return spec !== undefined && snapshotsOn(spec);
}

/**
 * What a steady app's copies leave to clean up: copy Jobs no rollout runs, and per role the
 * claims of operations beyond its `keepSnapshots`.
 */
export function copiesToPrune(
  app: string,
  installed: InstalledRelease,
  jobs: CopyJobView[],
  copies: CopyClaimView[],
): { jobs: string[]; claims: string[] } {
  const claims = installed.release.spec.roles.flatMap((r) => {
    const prefix = `${app}-${r.name}-`;
    const mine = copies.filter((x) => x.member.startsWith(prefix) && /^\d+$/.test(x.member.slice(prefix.length)));
    return prunable(mine, r.upgrade.keepSnapshots);
  });
  return { jobs: jobs.map((x) => x.name).sort(), claims: claims.sort() };
}
