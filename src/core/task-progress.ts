/**
 * The status of an UpgradeTask and the pure rules that move it: what a target's outcome is,
 * the live counts, when the failure ratio stops the task, whether a failed target is tried
 * again, the task's final phase, and how a journaled step becomes an
 * `upgradeDetailedStatuses` entry (seed 004: a Waiting entry when the step starts, replaced
 * by Completed or Errored; Errored always carries a reason, non-Waiting always a message).
 */
import type { OperationState } from './upgrade-machine.ts';

/** The phase of a task (seed 004), plus Pending: applied, not yet run. */
export type TaskPhase = 'Pending' | 'Started' | 'Success' | 'Error';

/**
 * Where one target is. Done: Upgraded, Skipped (already at the new version). Failed:
 * RolledBack (the old version was restored), Aborted (failed before the old instance was
 * touched), Refused (nothing tried: a rule or guard said no), Incomplete (an operation is
 * still in flight; `molt recover` or a re-run finishes it). NotStarted: the task stopped
 * before reaching it — it was never touched.
 */
export type TargetPhase =
  | 'Pending'
  | 'Running'
  | 'Upgraded'
  | 'Skipped'
  | 'RolledBack'
  | 'Aborted'
  | 'Refused'
  | 'Incomplete'
  | 'NotStarted';

/** Target phases that count as failed. */
export const FAILED_PHASES: ReadonlySet<TargetPhase> = new Set(['RolledBack', 'Aborted', 'Refused', 'Incomplete']);
/** Target phases that count as done. */
export const DONE_PHASES: ReadonlySet<TargetPhase> = new Set(['Upgraded', 'Skipped']);

/** The phase of one `upgradeDetailedStatuses` entry (seed 004). */
export type StepPhase = 'Waiting' | 'Errored' | 'Completed';

/** One entry of `status.upgradeDetailedStatuses`. */
export interface DetailedStatus {
  /** The target (`app`, or `endpoint/app` with an inventory). */
  target: string;
  step: string;
  startTime: string;
  lastUpdatedAt: string;
  phase: StepPhase;
  message: string;
  /** CamelCase; always set when Errored. */
  reason: string;
}

/** The live counts of a task's targets. */
export interface TargetCounts {
  total: number;
  done: number;
  failed: number;
  running: number;
  pending: number;
  notStarted: number;
}

/** The outcome of one target. */
export interface TargetOutcome {
  phase: TargetPhase;
  reason: string;
  message: string;
}

/** Counts targets by phase. */
export function countTargets(phases: readonly TargetPhase[]): TargetCounts {
  const counts: TargetCounts = { total: phases.length, done: 0, failed: 0, running: 0, pending: 0, notStarted: 0 };
  for (const p of phases) {
    if (DONE_PHASES.has(p)) counts.done++;
    else if (FAILED_PHASES.has(p)) counts.failed++;
    else if (p === 'Running') counts.running++;
    else if (p === 'Pending') counts.pending++;
    else counts.notStarted++;
  }
  return counts;
}

/** True once the failed share of all targets is above `maxFailureRatio`: start no more targets. */
export function failureRatioExceeded(counts: TargetCounts, maxFailureRatio: number): boolean {
  return counts.total > 0 && counts.failed / counts.total > maxFailureRatio;
}

/** What an app operation's state means for the target that ran it. */
export function outcomeOfOperation(state: OperationState, to: string): TargetOutcome {
  switch (state.phase) {
    case 'Succeeded':
      return {
        phase: 'Upgraded',
        reason: 'Upgraded',
        message: `now at ${to}${state.warnings.length ? ` (${state.warnings.join('; ')})` : ''}`,
      };
    case 'RolledBack':
      return {
        phase: 'RolledBack',
        reason: state.cause.code,
        message: `${state.cause.message}; the old version was restored`,
      };
    case 'Aborted':
      return { phase: 'Aborted', reason: state.cause.code, message: `${state.cause.message}; nothing was changed` };
    default:
      return {
        phase: 'Incomplete',
        reason: 'OperationInFlight',
        message: `stopped at ${state.step} (${state.phase}); \`molt recover\` or re-running the task finishes it`,
      };
  }
}

/** True when a failed target gets another attempt under `options.retries`. */
export function shouldRetry(outcome: TargetOutcome, attempts: number, retries: number): boolean {
  if (outcome.phase !== 'RolledBack' && outcome.phase !== 'Aborted') return false;
  if (outcome.reason === 'Interrupted' || outcome.reason === 'Cancelled') return false;
  return attempts < 1 + retries;
}

/** Why a task stopped before reaching every target, if it did. */
export type StopCause = 'Cancelled' | 'MaxFailureRatioExceeded' | undefined;

/** The final phase of a task whose targets are all settled. */
export function finalPhase(
  counts: TargetCounts,
  maxFailureRatio: number,
  stop: StopCause,
): { phase: 'Success' | 'Error'; reason: string; message: string } {
  const summary = `${counts.done} done, ${counts.failed} failed, ${counts.notStarted} not started, of ${counts.total}`;
  if (stop === 'Cancelled') return { phase: 'Error', reason: 'Cancelled', message: `cancelled: ${summary}` };
  if (counts.total === 0) return { phase: 'Error', reason: 'NoTargets', message: 'no app matches spec.target' };
  if (stop === 'MaxFailureRatioExceeded' || failureRatioExceeded(counts, maxFailureRatio)) {
    const share = Math.round((counts.failed / counts.total) * 100);
    return {
      phase: 'Error',
      reason: 'MaxFailureRatioExceeded',
      message: `${counts.failed} of ${counts.total} targets failed (${share}%), more than maxFailureRatio ${maxFailureRatio} allows; stopped: ${summary}`,
    };
  }
  if (counts.failed > 0)
    return {
      phase: 'Success',
      reason: 'CompletedWithFailures',
      message: `${summary} (within maxFailureRatio ${maxFailureRatio})`,
    };
  return { phase: 'Success', reason: 'Completed', message: summary };
}

/** A journaled step of an app operation, as far as the task status needs it. */
export interface JournaledStep {
  name: string;
  phase: 'Started' | 'Completed' | 'Failed' | 'Interrupted';
  startedAt: string;
  finishedAt?: string;
  message: string;
}

/** The detailed status entry for a journaled step of `target`'s operation. */
export function entryOfStep(target: string, step: JournaledStep): DetailedStatus {
  const base = { target, step: step.name, startTime: step.startedAt, lastUpdatedAt: step.finishedAt ?? step.startedAt };
  switch (step.phase) {
    case 'Started':
      return { ...base, phase: 'Waiting', message: step.message, reason: '' };
    case 'Completed':
      return { ...base, phase: 'Completed', message: step.message || 'done', reason: '' };
    case 'Interrupted':
      return {
        ...base,
        phase: 'Errored',
        message: step.message || 'molt stopped during this step',
        reason: 'Interrupted',
      };
    case 'Failed': {
      const m = /^([A-Z][A-Za-z0-9]*): ([\s\S]*)$/.exec(step.message);
      return { ...base, phase: 'Errored', reason: m?.[1] ?? 'Failed', message: m?.[2] || step.message || 'failed' };
    }
  }
}

/**
 * The step the task itself runs before acting on a target: the version guard, the image
 * rule and the app's upgrade rules (OpenEBS's PRE_UPGRADE checks; named apart from the app's
 * own PreUpgrade script step).
 */
export const TASK_PRECHECK_STEP = 'Precheck';

/** A Waiting entry for a step the task itself runs (its Precheck). */
export function waitingEntry(target: string, step: string, now: string, message = ''): DetailedStatus {
  return { target, step, startTime: now, lastUpdatedAt: now, phase: 'Waiting', message, reason: '' };
}

/** Replaces a Waiting entry by Completed (message required) or Errored (reason and message required). */
export function settleEntry(
  entry: DetailedStatus,
  now: string,
  result: { phase: 'Completed'; message: string } | { phase: 'Errored'; reason: string; message: string },
): DetailedStatus {
  if (result.phase === 'Errored') {
    return {
      ...entry,
      lastUpdatedAt: now,
      phase: 'Errored',
      reason: result.reason || 'Failed',
      message: result.message || 'failed',
    };
  }
  return { ...entry, lastUpdatedAt: now, phase: 'Completed', reason: '', message: result.message || 'done' };
}
