/**
 * Pausing and resuming a release app's rollout on Kubernetes. The App's annotation
 * `molt.dev/paused: "true"` is the one switch (`molt pause` sets it, `molt resume` removes it):
 * while it is there the rollout starts no further member. With `upgradeStrategy.onFailure:
 * pause` a failed member sets it too and the journal records the failure (`paused`): then the
 * rollout takes no action at all, touched members stay as they are. Removing the annotation
 * resumes: the failed member is restarted once more (a retry) and the rollout goes on; setting
 * spec.release back to the old release rolls the touched members back instead.
 */
import { RESOURCES } from '../../engines/kubernetes/index.ts';
import { boundary } from '../runtime/kill-points.ts';
import type { AppObject } from '../app/observe.ts';
import { event, writeJournal, type ReleaseCtx } from './actions.ts';
import type { ReleaseWorld } from './observe.ts';
import type { ReleaseOutcome } from './status.ts';
import { releaseKillPoint, type RoleAction } from './steps.ts';
import { PAUSED_ANNOTATION, type RoleJournal } from './template.ts';

/** True while the App carries the paused annotation. */
export function pauseRequested(app: AppObject): boolean {
  return app.metadata.annotations?.[PAUSED_ANNOTATION] === 'true';
}

/** The outcome of a pass that found the rollout paused. */
export function pausedOutcome(j: RoleJournal, results: RoleAction[]): ReleaseOutcome {
  if (j.paused)
    return {
      kind: 'Paused',
      reason: j.paused.reason,
      message: `paused at ${j.paused.role} member ${j.paused.ordinal}: ${j.paused.message}; molt resume retries it, spec.release: ${j.from} rolls back`,
    };
  const where = results
    .map((r) => (r.kind === 'Wait' && r.paused ? r.message : ''))
    .filter(Boolean)
    .join('; ');
  return {
    kind: 'Paused',
    reason: 'PauseRequested',
    message: `paused by request (${PAUSED_ANNOTATION}): ${where}; molt resume goes on`,
  };
}

/** A member failed and onFailure is pause: the annotation first (so a kill never reads as a resume), then the journals. */
export async function pauseOnFailure(
  c: ReleaseCtx,
  w: ReleaseWorld,
  role: string,
  fail: Extract<RoleAction, { kind: 'Fail' }>,
): Promise<void> {
  boundary(releaseKillPoint('PauseRollout'), 'before');
  await c.api.mergePatch(RESOURCES.apps, c.ref.namespace, c.ref.name, {
    metadata: { annotations: { [PAUSED_ANNOTATION]: 'true' } },
  });
  // The rest of this reconcile reads the App it started with: it must see the pause too (or it would resume at once).
  c.app.metadata.annotations = { ...c.app.metadata.annotations, [PAUSED_ANNOTATION]: 'true' };
  const paused = {
    role,
    ordinal: fail.ordinal,
    reason: fail.reason,
    message: fail.message,
    at: new Date().toISOString(),
  };
  for (const set of w.sets.values())
    if (set.journal)
      await writeJournal(c, set, { ...set.journal, paused, ...(set.role === role ? { failed: fail.ordinal } : {}) });
  boundary(releaseKillPoint('PauseRollout'), 'after');
  await event(
    c,
    'Warning',
    'Paused',
    `the rollout paused at ${role} member ${fail.ordinal}: ${fail.reason}: ${fail.message}`,
  );
}

/** The annotation is gone from a rollout a failure paused: restart the failed member once more and go on. */
export async function resumeRollout(c: ReleaseCtx, w: ReleaseWorld, j: RoleJournal): Promise<void> {
  const failedOrdinal = j.paused?.ordinal ?? -1;
  const failedRole = j.paused?.role;
  boundary(releaseKillPoint('ResumeRollout'), 'before');
  const now = new Date().toISOString();
  for (const set of w.sets.values()) {
    if (!set.journal) continue;
    const pod = set.pods.get(failedOrdinal);
    const retry = set.role === failedRole && pod && !pod.ready && !pod.terminating;
    // The pod first: a kill before the journal write leaves it paused, and the next resume restarts the new pod again.
    if (retry) await c.api.delete(RESOURCES.pods, c.ref.namespace, pod.name, { uid: pod.uid });
    const times = retry
      ? { ...set.journal.times, [failedOrdinal]: { ...set.journal.times[failedOrdinal], restartedAt: now } }
      : set.journal.times;
    await writeJournal(c, set, { ...set.journal, paused: undefined, failed: undefined, times });
  }
  boundary(releaseKillPoint('ResumeRollout'), 'after');
  await event(
    c,
    'Normal',
    'Resumed',
    `the rollout goes on${failedOrdinal >= 0 ? ` (${failedRole} member ${failedOrdinal} restarted once more)` : ''}`,
  );
}
