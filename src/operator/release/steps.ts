/**
 * The next step of one role of a release app's rollout, pure: from the role's journal, its
 * StatefulSet's template release and its pods (read back from the cluster), decide one action.
 * Upgrading: members from the highest ordinal down (core rolloutOrder) — template to the new
 * release, delete pod N, wait Ready within the raised budget, `--pod_upgraded`, next; then
 * `--role_upgraded`. Up to maxUnavailable members of a role are in flight at once (a lower
 * ordinal starts only while fewer are); a pause request starts no further member, and a
 * rollout paused by a failure (onFailure: pause) takes no action at all until resumed. Rolling back: exactly the touched members — template back, delete those
 * pods, wait Ready, `--pod_reverted`; then `--role_reverted`.
 */
import { podFailure, type FailureCode } from '../../core/policy/index.ts';
import { rolloutOrder } from '../../core/release.ts';
import type { PodView } from '../app/world.ts';
import type { RoleJournal } from './template.ts';

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
}

/** One action on a role. */
export type RoleAction =
  | { kind: 'SetTemplate'; release: string }
  | { kind: 'DeletePod'; ordinal: number; pod: string; uid: string; revert: boolean }
  | { kind: 'PodHook'; ordinal: number; pod: string; flag: '--pod_upgraded' | '--pod_reverted' }
  | { kind: 'RoleHook'; flag: '--role_upgraded' | '--role_reverted' }
  | { kind: 'Wait'; message: string; paused?: boolean }
  | { kind: 'Fail'; ordinal: number; reason: FailureCode; message: string }
  | { kind: 'Done' };

/** The kinds of RoleAction that change the cluster; each has a kill point before and after it. */
export const ACTING_ROLE_ACTIONS = [
  'SetTemplate',
  'DeletePod',
  'PodHook',
  'RoleHook',
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

/** The next action of a role. */
export function nextRoleAction(v: RoleView): RoleAction {
  return v.journal.state === 'Upgrading' ? upgradeStep(v) : rollbackStep(v);
}

function upgradeStep(v: RoleView): RoleAction {
  const j = v.journal;
  if (j.paused)
    return {
      kind: 'Wait',
      message: `paused at ${v.name} member ${j.paused.ordinal}: ${j.paused.reason}`,
      paused: true,
    };
  const max = Math.max(1, v.maxUnavailable ?? 1);
  let busy = 0;
  let waiting: string | undefined;
  const inFlight = (message: string) => {
    busy++;
    waiting ??= message;
  };
  for (const ordinal of rolloutOrder(v.members, v.partition)) {
    const pod = v.pods.get(ordinal);
    if (!pod) inFlight(`${v.name} member ${ordinal}: waiting for its pod`);
    else if (pod.release !== j.to) {
      if (pod.terminating) inFlight(`${pod.name}: terminating`);
      // Highest ordinal first: a lower member starts only while fewer than maxUnavailable are in flight.
      else if (busy >= max) return { kind: 'Wait', message: waiting ?? `${pod.name}: waiting for its turn` };
      else if (v.pauseRequested) return { kind: 'Wait', message: `paused before ${pod.name}`, paused: true };
      else if (v.templateRelease !== j.to) return { kind: 'SetTemplate', release: j.to };
      else return { kind: 'DeletePod', ordinal, pod: pod.name, uid: pod.uid, revert: false };
    } else {
      const restartedAt = Date.parse(j.times[ordinal]?.restartedAt ?? '') || undefined;
      const failed = j.touched.includes(ordinal) ? memberFailure(pod, restartedAt, v.budgetMs, v.now) : undefined;
      if (failed) return { kind: 'Fail', ordinal, ...failed };
      if (!pod.ready || pod.terminating) inFlight(`${pod.name}: waiting for Ready`);
      else if (j.touched.includes(ordinal) && !j.hooked.includes(ordinal))
        return { kind: 'PodHook', ordinal, pod: pod.name, flag: '--pod_upgraded' };
    }
  }
  if (waiting) return { kind: 'Wait', message: waiting };
  if (v.templateRelease !== j.to) return { kind: 'SetTemplate', release: j.to };
  return j.roleHooked ? { kind: 'Done' } : { kind: 'RoleHook', flag: '--role_upgraded' };
}

function rollbackStep(v: RoleView): RoleAction {
  const j = v.journal;
  if (v.templateRelease !== j.from) return { kind: 'SetTemplate', release: j.from };
  for (const ordinal of [...j.touched].sort((a, b) => b - a)) {
    const pod = v.pods.get(ordinal);
    if (!pod) return { kind: 'Wait', message: `${v.name} member ${ordinal}: waiting for its pod` };
    if (pod.release !== j.from) {
      if (pod.terminating) return { kind: 'Wait', message: `${pod.name}: terminating` };
      return { kind: 'DeletePod', ordinal, pod: pod.name, uid: pod.uid, revert: true };
    }
    if (!pod.ready || pod.terminating) return { kind: 'Wait', message: `${pod.name}: waiting for Ready on ${j.from}` };
    if (!j.reverted.includes(ordinal)) return { kind: 'PodHook', ordinal, pod: pod.name, flag: '--pod_reverted' };
  }
  return j.roleHooked || j.touched.length === 0 ? { kind: 'Done' } : { kind: 'RoleHook', flag: '--role_reverted' };
}
