/**
 * The App's status, computed (pure) from the world at the end of a pass and the step the pass
 * stopped at — written once per pass, also when the pass failed. Conditions (core/status.ts
 * setCondition keeps lastTransitionTime while a status holds) carry the App's generation.
 */
import type { Reason } from '../../core/policy/index.ts';
import { setCondition, type Condition } from '../../core/status.ts';
import { recordFinished, recordInstall, recordRefusal } from '../crd/history.ts';
import type { AppStatus, HistoryEntry, KubeCondition, MemberStatus } from '../crd/status.ts';
import type { Step } from './decide.ts';
import type { AppWorld } from './world.ts';

/** How the pass ended: the terminal step, or the error that stopped it. */
export type PassOutcome = { step: Step } | { error: { code: string; message: string } };

/** The status after a pass. */
export function statusOf(w: AppWorld, outcome: PassOutcome, previous: AppStatus | undefined, now: string): AppStatus {
  const gen = w.app.generation;
  const installed = w.sts?.installed;
  const journal = w.sts?.journal;
  const step = 'step' in outcome ? outcome.step : undefined;
  const ready = readyCondition(w, step);
  const progressing = progressingCondition(w, outcome);
  let conditions = (previous?.conditions ?? []) as Condition[];
  conditions = setCondition(conditions, ready as Omit<Condition, 'lastTransitionTime'>, now);
  conditions = setCondition(conditions, progressing as Omit<Condition, 'lastTransitionTime'>, now);
  const status: AppStatus = {
    observedGeneration: gen,
    phase: phaseOf(w, step),
    conditions: (conditions as KubeCondition[]).map((c) => ({ ...c, observedGeneration: gen })),
    members: w.members.map((m) => memberStatus(w, m.name, m.ordinal)),
    message: progressing.status === 'True' || progressing.reason !== 'UpToDate' ? progressing.message : ready.message,
  };
  if (installed)
    Object.assign(status, {
      installedVersion: installed.version,
      image: installed.spec.image,
      ...(installed.digest ? { imageDigest: installed.digest } : {}),
    });
  if (journal) {
    status.upgrade = {
      from: journal.from,
      to: journal.to,
      state: journal.state,
      startedAt: journal.startedAt,
      ...(journal.cause ? { cause: `${journal.cause.code}: ${journal.cause.message}` } : {}),
    };
  }
  const last = w.sts?.last;
  if (last) {
    status.lastUpgrade = {
      to: last.to,
      outcome: last.outcome,
      reason: last.reason,
      message: last.message,
      finishedAt: last.finishedAt,
      ...(last.from ? { from: last.from } : {}),
      ...(last.startedAt ? { startedAt: last.startedAt } : {}),
    };
  }
  const history = historyOf(w, step, previous?.history, now);
  if (history.length) status.history = history;
  return status;
}

/** The previous history plus what ended since: the install, the last upgrade or rollback, a refusal. */
function historyOf(
  w: AppWorld,
  step: Step | undefined,
  previous: HistoryEntry[] | undefined,
  now: string,
): HistoryEntry[] {
  const installed = w.sts?.installed;
  const last = w.sts?.last;
  let h = previous ?? [];
  if (installed && !last) h = recordInstall(h, installed.version, now, installed.spec.image);
  if (last) {
    const result = last.outcome;
    h = recordFinished(h, {
      kind: last.rollback ? 'rollback' : 'upgrade',
      to: last.to,
      result,
      finishedAt: last.finishedAt,
      ...(last.from ? { from: last.from } : {}),
      ...(last.startedAt ? { startedAt: last.startedAt } : {}),
      ...(last.fromImage ? { fromImage: last.fromImage } : {}),
      ...(last.toImage ? { toImage: last.toImage } : {}),
      ...(last.fromSpec ? { fromSpec: Object.fromEntries(Object.entries(last.fromSpec)) } : {}),
      ...(result === 'Succeeded' ? {} : { cause: `${last.reason}: ${last.message}` }),
    });
  }
  if (step?.kind === 'Refuse' && w.desired.ok) {
    h = recordRefusal(h, {
      to: w.desired.manifest.spec.version,
      cause: `${step.reason}: ${step.message}`,
      generation: w.app.generation,
      now,
      ...(installed ? { from: installed.version } : {}),
    });
  }
  return h;
}

type NewCondition = Omit<KubeCondition, 'lastTransitionTime' | 'observedGeneration' | 'reason'> & { reason: Reason };

function phaseOf(w: AppWorld, step: Step | undefined): NonNullable<AppStatus['phase']> {
  const journal = w.sts?.journal;
  if (journal) return journal.state;
  if (!w.sts?.installed)
    return step?.kind === 'Wait' && step.failure ? 'Failed' : w.desired.ok ? 'Installing' : 'Failed';
  return 'Running';
}

function readyCondition(w: AppWorld, step: Step | undefined): NewCondition {
  const installed = w.sts?.installed;
  const notReady = w.members.filter((m) => !m.pod?.ready).map((m) => m.name);
  if (!installed) {
    const failure = step?.kind === 'Wait' ? step.failure : undefined;
    if (failure)
      return { type: 'Ready', status: 'False', reason: failure.code, message: `install failed: ${failure.message}` };
    return {
      type: 'Ready',
      status: 'False',
      reason: 'Installing',
      message: w.desired.ok ? `installing ${w.desired.manifest.spec.version}` : 'not installed',
    };
  }
  if (w.members.length === 0 || notReady.length) {
    return {
      type: 'Ready',
      status: 'False',
      reason: 'MembersNotReady',
      message: `not ready: ${notReady.join(', ') || 'no members'}`,
    };
  }
  const version = [...new Set(w.members.map((m) => m.pod?.version).filter(Boolean))].join(', ');
  return {
    type: 'Ready',
    status: 'True',
    reason: 'Running',
    message: `${version || installed.version} is running and ready`,
  };
}

function progressingCondition(w: AppWorld, outcome: PassOutcome): NewCondition {
  const journal = w.sts?.journal;
  const base = { type: 'Progressing' } as const;
  if ('error' in outcome) {
    return {
      ...base,
      status: journal ? 'True' : 'False',
      reason: 'ReconcileError',
      message: `${outcome.error.code}: ${outcome.error.message} (retrying)`,
    };
  }
  const step = outcome.step;
  if (journal?.state === 'RollingBack') {
    const why = journal.cause ? `${journal.cause.code}: ${journal.cause.message}` : 'rollback';
    return {
      ...base,
      status: 'True',
      reason: step.kind === 'Wait' && step.reason === 'RollbackStuck' ? 'RollbackStuck' : 'RollingBack',
      message: `rolling back ${journal.to} → ${journal.from} after ${why}${pendingChange(w)}`,
    };
  }
  if (journal) {
    const what = step.kind === 'Wait' ? step.message : step.kind;
    return {
      ...base,
      status: 'True',
      reason: 'Upgrading',
      message: `upgrading ${journal.from} → ${journal.to}: ${what}${pendingChange(w)}`,
    };
  }
  switch (step.kind) {
    case 'Invalid':
      return { ...base, status: 'False', reason: step.reason, message: `${step.message} (nothing was changed)` };
    case 'Refuse':
      return { ...base, status: 'False', reason: step.reason, message: `${step.message} (nothing was changed)` };
    case 'Blocked':
      return { ...base, status: 'False', reason: w.sts?.last?.outcome ?? 'Blocked', message: step.message };
    case 'Wait':
      if (!w.sts?.installed)
        return {
          ...base,
          status: step.failure ? 'False' : 'True',
          reason: step.failure ? step.failure.code : 'Installing',
          message: step.message,
        };
      return { ...base, status: 'False', reason: step.reason, message: step.message };
    default: {
      const last = w.sts?.last;
      if (last && last.outcome !== 'Succeeded')
        return { ...base, status: 'False', reason: last.outcome, message: `${last.reason}: ${last.message}` };
      return {
        ...base,
        status: 'False',
        reason: 'UpToDate',
        message: last ? `upgraded ${last.from ?? ''} → ${last.to}` : 'installed',
      };
    }
  }
}

function pendingChange(w: AppWorld): string {
  const journal = w.sts?.journal;
  if (!journal || !w.desired.ok || w.desired.hash === journal.toHash || w.desired.hash === journal.fromHash) return '';
  return `; the newer change to ${w.desired.manifest.spec.version} waits until this ${journal.state === 'RollingBack' ? 'rollback' : 'upgrade'} is over`;
}

function memberStatus(w: AppWorld, name: string, ordinal: number): MemberStatus {
  const m = w.members.find((x) => x.name === name);
  const journal = w.sts?.journal;
  const s: MemberStatus = { name, ordinal, ready: m?.pod?.ready ?? false };
  if (m?.pod?.version) s.version = m.pod.version;
  if (journal && m?.pod) {
    const isNew = m.pod.hash === journal.toHash;
    s.podUpgradeStatus =
      journal.state === 'Upgrading'
        ? isNew
          ? m.pod.ready
            ? 'upgraded'
            : 'upgrading'
          : ''
        : isNew
          ? 'rollingBack'
          : 'rolledBack';
  }
  return s;
}
