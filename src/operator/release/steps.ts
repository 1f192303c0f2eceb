/**
 * The next step of one role of a release app's rollout on Kubernetes, pure: the core's rule
 * (core/release-rollout.ts, which the local runner follows too) over the role's journal, its
 * StatefulSet's template release and its pods read back from the cluster. The core's actions
 * in the cluster's words: its target is the template (SetTemplate), a member is replaced by
 * deleting its pod (the StatefulSet recreates it from the template: DeletePod), a member hook
 * is a pod hook; a pod restarted onto the new release fails by core/policy's pod rule within
 * the raised budget.
 */
import { podFailure, type FailureCode, type Reason } from '../../core/policy/index.ts';
import { nextRolloutAction, type RoleRolloutView, type RolloutMember } from '../../core/release-rollout.ts';
import type { PodView } from '../app/world.ts';
import type { RoleJournal } from './template.ts';
import { restoreAction, snapshotAction, type CopyAction, type RoleCopies } from './copy-steps.ts';

/** A pod of a role, with the release its labels say it runs. */
export interface RolePod extends PodView {
  ordinal: number;
  release: string;
}

/** What a role's pass sees. */
export interface RoleView {
  name: string;
  members: number;
  templateRelease: string;
  journal: RoleJournal;
  pods: Map<number, RolePod>;
  /** Milliseconds a restarted member may take to become Ready. */
  budgetMs: number;
  now: number;
  partition: number;
  /** Members of this role replaced at the same time (upgradeStrategy.maxUnavailable). @default 1 */
  maxUnavailable?: number;
  /** `molt pause` (the App's paused annotation): start no further member. */
  pauseRequested?: boolean;
  /** The rollout's volume copies (copy-steps.ts); absent: none. */
  copies?: RoleCopies;
}

/** One action on a role. */
export type RoleAction =
  | { kind: 'SetTemplate'; release: string }
  | { kind: 'DeletePod'; ordinal: number; pod: string; uid: string; revert: boolean }
  | { kind: 'PodHook'; ordinal: number; pod: string; flag: '--pod_upgraded' | '--pod_reverted' }
  | { kind: 'RoleHook'; flag: '--role_upgraded' | '--role_reverted' }
  | CopyAction
  | { kind: 'Wait'; message: string; paused?: boolean; reason?: Reason }
  | { kind: 'Fail'; ordinal: number; reason: FailureCode; message: string }
  | { kind: 'Done' };

/** The kinds of RoleAction that change the cluster; each has a kill point before and after it. */
export const ACTING_ROLE_ACTIONS = [
  'SetTemplate',
  'DeletePod',
  'PodHook',
  'RoleHook',
  'SnapshotVolumes',
  'HoldMembers',
  'RestoreVolumes',
  'ReleaseMembers',
] as const satisfies readonly RoleAction['kind'][];

/**
 * The steps of a rollout taken once for the whole app (in reconciler.ts), not per role; each
 * has a kill point before and after it, like the role actions.
 */
export const ACTING_PASS_STEPS = [
  'Install',
  'StartRollout',
  'PauseRollout',
  'ResumeRollout',
  'StartRollback',
  'ClusterHook',
  'FinishRollout',
  'PruneSnapshots',
] as const;

/** A kill-point name of the release reconciler (`MOLT_TEST_KILL_AT=<name>:before|after`). */
export function releaseKillPoint(
  kind: (typeof ACTING_ROLE_ACTIONS)[number] | (typeof ACTING_PASS_STEPS)[number],
): string {
  return `op.release.${kind}`;
}

/** Why a restarted member failed, if it did (core/policy, timed from its restart). */
export function memberFailure(
  pod: RolePod,
  restartedAt: number | undefined,
  budgetMs: number,
  now: number,
): { reason: FailureCode; message: string } | undefined {
  const f = podFailure(pod, restartedAt, budgetMs, now);
  return f && { reason: f.code, message: f.message };
}

/**
 * The next action of a role: the core's rule (core/release-rollout.ts) over its pods, with the
 * volume copies around it — a copy before a member is replaced, a restore before a reverted
 * member starts again (copy-steps.ts).
 */
export function nextRoleAction(v: RoleView): RoleAction {
  const restore = restoreAction(v);
  if (restore) return restore;
  const a = nextRolloutAction(rolloutView(v));
  switch (a.kind) {
    case 'SetTarget':
      return { kind: 'SetTemplate', release: a.release };
    case 'Replace': {
      const pod = v.pods.get(a.ordinal) as RolePod;
      const replace = { kind: 'DeletePod', ordinal: a.ordinal, pod: pod.name, uid: pod.uid, revert: a.revert } as const;
      return snapshotAction(v, replace) ?? replace;
    }
    case 'MemberHook':
      return { kind: 'PodHook', ordinal: a.ordinal, pod: a.member, flag: a.flag };
    default:
      return a;
  }
}

/**
 * The role as the core sees it: each pod a member — busy while terminating, failed by
 * core/policy's pod rule once it was restarted onto the new release (timed from its restart).
 */
function rolloutView(v: RoleView): RoleRolloutView {
  const j = v.journal;
  const current = new Map<number, RolloutMember>();
  for (const [ordinal, pod] of v.pods) {
    const restartedAt = Date.parse(j.times[ordinal]?.restartedAt ?? '') || undefined;
    const failure =
      j.state === 'Upgrading' && pod.release === j.to && j.touched.includes(ordinal)
        ? memberFailure(pod, restartedAt, v.budgetMs, v.now)
        : undefined;
    current.set(ordinal, {
      ordinal,
      name: pod.name,
      release: pod.release,
      busy: pod.terminating,
      ready: pod.ready,
      ...(failure ? { failure } : {}),
    });
  }
  return {
    name: v.name,
    members: v.members,
    journal: j,
    current,
    target: v.templateRelease,
    partition: v.partition,
    ...(v.maxUnavailable !== undefined ? { maxUnavailable: v.maxUnavailable } : {}),
    ...(v.pauseRequested !== undefined ? { pauseRequested: v.pauseRequested } : {}),
  };
}
