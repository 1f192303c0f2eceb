/**
 * The status of an App that runs a Release (seed 003 shapes, core/release-status.ts): phase,
 * state, release, upgradeInfo{isRollingBack, prevRelease}, roles[].members[].upgradeStatus
 * with the times molt restarted/upgraded/reverted each member, conditions Ready and
 * Progressing, upgrade in flight and lastUpgrade. Written once per pass; a new refusal or
 * invalid spec also gets a Warning Event (once per generation).
 */
import { roleUpgradeStatus, type UpgradeStatus } from '../../core/release-status.ts';
import { sameValue } from '../../core/plan.ts';
import type { Reason } from '../../core/policy/index.ts';
import { setCondition, type Condition } from '../../core/status.ts';
import { RESOURCES } from '../../engines/kubernetes/index.ts';
import type { AppReconcilerDeps } from '../app/reconciler.ts';
import type { AppObject } from '../app/observe.ts';
import { recordFinished, recordInstall, recordRefusal } from '../crd/history.ts';
import type { AppStatus, HistoryEntry, KubeCondition } from '../crd/status.ts';
import type { ReleaseWorld, RoleSet } from './observe.ts';
import type { RoleJournal } from './template.ts';

/** How a pass ended. */
export interface ReleaseOutcome {
  kind: 'Progress' | 'Wait' | 'Steady' | 'Refuse' | 'Invalid' | 'Blocked' | 'Error' | 'Paused';
  reason: Reason;
  message: string;
}

function memberUpgradeStatus(j: RoleJournal | undefined, ordinal: number, rolledBack: boolean): UpgradeStatus {
  if (!j) return '';
  if (j.failed === ordinal && j.state === 'Upgrading') return 'failed';
  if (j.state === 'Upgrading')
    return j.hooked.includes(ordinal) ? 'upgraded' : j.touched.includes(ordinal) ? 'upgrading' : '';
  if (j.reverted.includes(ordinal) || (rolledBack && j.touched.includes(ordinal))) return 'rolledBack';
  return j.touched.includes(ordinal) ? 'rollingBack' : '';
}

function roleStatus(set: RoleSet, members: number): NonNullable<AppStatus['roles']>[number] {
  const j = set.journal ?? set.last?.journal;
  const rolledBack = !set.journal && set.last?.outcome === 'RolledBack';
  const list = Array.from({ length: members }, (_, ordinal) => {
    const pod = set.pods.get(ordinal);
    const t = j?.times[ordinal] ?? {};
    return {
      name: `${set.name}-${ordinal}`,
      ordinal,
      upgradeStatus: memberUpgradeStatus(j, ordinal, rolledBack),
      ready: pod?.ready ?? false,
      ...(pod?.release ? { release: pod.release } : {}),
      ...t,
    };
  });
  const upgradeStatus = roleUpgradeStatus(list);
  return {
    name: set.role,
    upgradeStatus,
    roleUpgradeStatus: upgradeStatus === 'failed' ? 'upgrading' : upgradeStatus,
    members: list,
  };
}

type NewCondition = Omit<Condition, 'lastTransitionTime'>;

function progressing(w: ReleaseWorld, o: ReleaseOutcome, j: RoleJournal | undefined): NewCondition {
  if (o.kind === 'Paused')
    return { type: 'Progressing', status: 'False', reason: 'Paused', message: `${o.reason}: ${o.message}` };
  if (o.kind === 'Refuse' || o.kind === 'Invalid' || o.kind === 'Blocked' || o.kind === 'Error')
    return { type: 'Progressing', status: 'False', reason: o.reason, message: o.message };
  if (j)
    return {
      type: 'Progressing',
      status: 'True',
      reason: j.state,
      message:
        j.state === 'RollingBack' ? `rolling back to ${j.from}: ${j.cause ?? ''}` : `upgrading ${j.from} → ${j.to}`,
    };
  if (o.kind === 'Steady') return { type: 'Progressing', status: 'False', reason: o.reason, message: o.message };
  return {
    type: 'Progressing',
    status: 'True',
    reason: w.sets.size ? 'Installing' : 'Progressing',
    message: o.message || 'installing',
  };
}

/** The status after a pass (pure). */
export function releaseStatusOf(
  w: ReleaseWorld,
  o: ReleaseOutcome,
  previous: AppStatus | undefined,
  generation: number,
  now: string,
): AppStatus {
  const sets = [...w.sets.values()];
  const installed = sets.find((s) => s.installed)?.installed;
  const j = sets.find((s) => s.journal)?.journal;
  const last = sets.find((s) => s.last)?.last;
  const counts = new Map(
    (installed?.app.roles ?? (w.desired.ok ? w.desired.manifest.spec.roles : [])).map((r) => [r.name, r.members]),
  );
  const roles = sets.map((s) => roleStatus(s, counts.get(s.role) ?? s.replicas));
  const allReady = roles.length > 0 && roles.every((r) => (r.members ?? []).every((m) => m.ready));
  const ready: NewCondition = allReady
    ? { type: 'Ready', status: 'True', reason: 'AllMembersReady', message: 'every member is Ready' }
    : { type: 'Ready', status: 'False', reason: 'MembersNotReady', message: 'not every member is Ready' };
  const prog = progressing(w, o, j);
  let conditions = (previous?.conditions ?? []) as Condition[];
  conditions = setCondition(setCondition(conditions, ready, now), prog, now);
  const status: AppStatus = {
    observedGeneration: generation,
    phase:
      j?.paused || o.kind === 'Paused'
        ? 'Paused'
        : j
          ? j.state
          : installed
            ? 'Running'
            : o.kind === 'Invalid'
              ? 'Failed'
              : 'Installing',
    state: j ? 'updating' : installed && allReady ? 'configured' : 'creating',
    conditions: (conditions as KubeCondition[]).map((c) => ({ ...c, observedGeneration: generation })),
    roles,
    message: prog.message,
  };
  if (installed)
    Object.assign(status, {
      release: installed.release.metadata.name,
      installedVersion: installed.release.spec.version,
    });
  if (j) {
    status.upgradeInfo = { isRollingBack: j.state === 'RollingBack', prevRelease: j.from };
    const cause = j.cause ?? (j.paused ? `${j.paused.reason}: ${j.paused.message}` : undefined);
    status.upgrade = { from: j.from, to: j.to, state: j.state, startedAt: j.startedAt, ...(cause ? { cause } : {}) };
  }
  if (last)
    status.lastUpgrade = {
      from: last.from,
      to: last.to,
      outcome: last.outcome,
      reason: last.reason,
      message: last.message,
      startedAt: last.startedAt,
      finishedAt: last.finishedAt,
    };
  const history = releaseHistoryOf(w, o, previous?.history, generation, now);
  if (history.length) status.history = history;
  return status;
}

/** The previous history plus what ended since: the install, the last rollout, a refusal (releases by name). */
function releaseHistoryOf(
  w: ReleaseWorld,
  o: ReleaseOutcome,
  previous: HistoryEntry[] | undefined,
  generation: number,
  now: string,
): HistoryEntry[] {
  const sets = [...w.sets.values()];
  const installed = sets.find((s) => s.installed)?.installed;
  const last = sets.find((s) => s.last)?.last;
  let h = previous ?? [];
  if (installed && !last) h = recordInstall(h, installed.release.metadata.name, now);
  if (last) {
    const ok = last.outcome === 'Succeeded';
    h = recordFinished(h, {
      kind: last.journal?.rollback ? 'rollback' : 'upgrade',
      from: last.from,
      to: last.to,
      result: last.outcome,
      startedAt: last.startedAt,
      finishedAt: last.finishedAt,
      ...(ok ? {} : { cause: `${last.reason}: ${last.message}` }),
    });
  }
  if (o.kind === 'Refuse' && w.desired.ok) {
    h = recordRefusal(h, {
      to: w.desired.manifest.spec.release,
      cause: `${o.reason}: ${o.message}`,
      generation,
      now,
      ...(installed ? { from: installed.release.metadata.name } : {}),
    });
  }
  return h;
}

/** Writes the status when it changed; a new refusal gets a Warning Event. */
export async function writeReleaseStatus(
  deps: AppReconcilerDeps,
  app: AppObject,
  w: ReleaseWorld,
  o: ReleaseOutcome,
): Promise<void> {
  const previous = app.status as AppStatus | undefined;
  const status = releaseStatusOf(w, o, previous, app.metadata.generation ?? 0, new Date().toISOString());
  if (o.kind === 'Refuse' || o.kind === 'Invalid') {
    const before = previous?.conditions?.find((c) => c.type === 'Progressing');
    if (
      !before ||
      before.reason !== o.reason ||
      before.message !== o.message ||
      previous?.observedGeneration !== status.observedGeneration
    ) {
      await deps.events.record({
        regarding: app,
        type: 'Warning',
        reason: o.reason,
        action: o.kind === 'Refuse' ? 'RefuseChange' : 'Validate',
        note: o.message,
      });
    }
  }
  if (previous && sameValue(previous, status)) return;
  const patch: Record<string, unknown> = { ...status };
  for (const k of Object.keys(previous ?? {})) if (!(k in status)) patch[k] = null;
  await deps.api.mergePatch(
    RESOURCES.apps,
    app.metadata.namespace,
    app.metadata.name ?? '',
    { status: patch },
    'status',
  );
  app.status = status as Record<string, unknown>;
}
