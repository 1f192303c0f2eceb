/**
 * The rollout of one role of a release app (seed 003), pure and engine-neutral: from the role's
 * journal and what each member runs now, the one next action. Both engines follow it — the
 * operator (operator/release/steps.ts: a member is a pod, replacing it deletes it so its
 * StatefulSet recreates it from the template) and the local runner (runner/rollout.ts: a member
 * is an app, replacing it runs the single-member procedure).
 *
 * Upgrading: members from the highest ordinal down (rolloutOrder) — the role's target to the
 * new release (an engine with a template), replace member N, wait until it is ready, its
 * `--pod_upgraded` hook, next; then `--role_upgraded`. Up to maxUnavailable members are in
 * flight at once, a member counting until its hook ran (a lower ordinal starts only while fewer
 * are, and before a ready member's hook, so the members really move together); a pause request
 * starts no further member, and a rollout paused by a failure (onFailure: pause) takes no action
 * at all until resumed. Rolling back: exactly the touched members, highest first — target back,
 * replace each, wait until ready, `--pod_reverted`; then `--role_reverted`.
 */
import type { FailureCode } from './policy/index.ts';
import { rolloutOrder } from './release.ts';

/** One role's rollout as journaled before each action (what was already done). */
export interface RoleRolloutJournal {
  state: 'Upgrading' | 'RollingBack';
  /** The release the rollout started from. */
  from: string;
  /** The release it rolls out. */
  to: string;
  /** Ordinals replaced to move them to `to` (going back: the ones to revert). */
  touched: number[];
  /** Ordinals whose `--pod_upgraded` hook ran. */
  hooked: number[];
  /** Ordinals whose `--pod_reverted` hook ran. */
  reverted: number[];
  /** The role hook (`--role_upgraded` / `--role_reverted`) ran. */
  roleHooked: boolean;
  /** Set while a failed member holds the rollout (upgradeStrategy.onFailure: pause). */
  paused?: { ordinal: number; reason: string };
}

/** One member as observed. */
export interface RolloutMember {
  ordinal: number;
  /** Its name (a pod's, a container's): messages name it. */
  name: string;
  /** The release it runs. */
  release: string;
  /** Being replaced or going away (a terminating pod; a member whose procedure runs). */
  busy: boolean;
  /** Ready to serve on its release. */
  ready: boolean;
  /**
   * Why its replacement (or, going back, its revert) failed, if it did: core/policy's codes, as
   * the engine's observer says. Upgrading, a failed touched member fails the rollout; going
   * back, it is passed over.
   */
  failure?: { reason: FailureCode; message: string };
}

/** What deciding a role's next action sees. */
export interface RoleRolloutView {
  /** The role's name. */
  name: string;
  members: number;
  journal: RoleRolloutJournal;
  /** Members by ordinal; a missing one is not there (yet). */
  current: Map<number, RolloutMember>;
  /**
   * The release the role's template declares, for an engine whose members are recreated from a
   * template (a StatefulSet); undefined where replacing a member names its release itself.
   */
  target?: string;
  /** Lowest ordinal an upgrade replaces (upgradeStrategy.partition). */
  partition: number;
  /** Members replaced at the same time (upgradeStrategy.maxUnavailable). @default 1 */
  maxUnavailable?: number;
  /** A pause was asked for (`molt pause`, or a failure elsewhere): start no further member. */
  pauseRequested?: boolean;
}

/** One action on a role. */
export type RoleRolloutAction =
  | { kind: 'SetTarget'; release: string }
  | { kind: 'Replace'; ordinal: number; member: string; revert: boolean }
  | { kind: 'MemberHook'; ordinal: number; member: string; flag: '--pod_upgraded' | '--pod_reverted' }
  | { kind: 'RoleHook'; flag: '--role_upgraded' | '--role_reverted' }
  | { kind: 'Wait'; message: string; paused?: boolean }
  | { kind: 'Fail'; ordinal: number; reason: FailureCode; message: string }
  | { kind: 'Done' };

/** The next action of a role's rollout. */
export function nextRolloutAction(v: RoleRolloutView): RoleRolloutAction {
  return v.journal.state === 'Upgrading' ? upgradeStep(v) : rollbackStep(v);
}

function upgradeStep(v: RoleRolloutView): RoleRolloutAction {
  const j = v.journal;
  if (j.paused)
    return {
      kind: 'Wait',
      message: `paused at ${v.name} member ${j.paused.ordinal}: ${j.paused.reason}`,
      paused: true,
    };
  const max = Math.max(1, v.maxUnavailable ?? 1);
  const target = v.target ?? j.to;
  let busy = 0;
  let waiting: string | undefined;
  // A member that is ready but not yet hooked is still in flight; its hook waits while a free
  // slot lets the next member start, so maxUnavailable members really are replaced together.
  let hook: RoleRolloutAction | undefined;
  const inFlight = (message: string) => {
    busy++;
    waiting ??= message;
  };
  for (const ordinal of rolloutOrder(v.members, v.partition)) {
    const m = v.current.get(ordinal);
    const failed = m?.failure && j.touched.includes(ordinal) ? m.failure : undefined;
    if (failed) return { kind: 'Fail', ordinal, ...failed };
    if (!m) inFlight(`${v.name} member ${ordinal}: waiting for its pod`);
    else if (m.release !== j.to) {
      if (m.busy) inFlight(`${m.name}: terminating`);
      // Highest ordinal first: a lower member starts only while fewer than maxUnavailable are in flight.
      else if (busy >= max) return hook ?? { kind: 'Wait', message: waiting ?? `${m.name}: waiting for its turn` };
      else if (v.pauseRequested) return hook ?? { kind: 'Wait', message: `paused before ${m.name}`, paused: true };
      else if (target !== j.to) return { kind: 'SetTarget', release: j.to };
      else return { kind: 'Replace', ordinal, member: m.name, revert: false };
    } else if (!m.ready || m.busy) inFlight(`${m.name}: waiting for Ready`);
    else if (j.touched.includes(ordinal) && !j.hooked.includes(ordinal)) {
      busy++;
      hook ??= { kind: 'MemberHook', ordinal, member: m.name, flag: '--pod_upgraded' };
    }
  }
  if (hook) return hook;
  if (waiting) return { kind: 'Wait', message: waiting };
  if (target !== j.to) return { kind: 'SetTarget', release: j.to };
  return j.roleHooked ? { kind: 'Done' } : { kind: 'RoleHook', flag: '--role_upgraded' };
}

function rollbackStep(v: RoleRolloutView): RoleRolloutAction {
  const j = v.journal;
  if ((v.target ?? j.from) !== j.from) return { kind: 'SetTarget', release: j.from };
  for (const ordinal of [...j.touched].sort((a, b) => b - a)) {
    const m = v.current.get(ordinal);
    if (!m) return { kind: 'Wait', message: `${v.name} member ${ordinal}: waiting for its pod` };
    // A member that could not be reverted stays as it is (the rollback ends Failed); the others still go back.
    if (m.failure) continue;
    if (m.release !== j.from) {
      if (m.busy) return { kind: 'Wait', message: `${m.name}: terminating` };
      return { kind: 'Replace', ordinal, member: m.name, revert: true };
    }
    if (!m.ready || m.busy) return { kind: 'Wait', message: `${m.name}: waiting for Ready on ${j.from}` };
    if (!j.reverted.includes(ordinal)) return { kind: 'MemberHook', ordinal, member: m.name, flag: '--pod_reverted' };
  }
  return j.roleHooked || j.touched.length === 0 ? { kind: 'Done' } : { kind: 'RoleHook', flag: '--role_reverted' };
}
