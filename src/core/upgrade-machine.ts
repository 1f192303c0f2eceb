/**
 * The upgrade state machine: one typed union of states and one pure `transition()`.
 * The states are also the journal format: the runner stores them as JSON before it acts,
 * so a killed molt resumes exactly where it was.
 *
 * Forward steps run in order. A failure before anything of the old instance was touched ends
 * in `Aborted`; a later one walks the rollback steps, which are idempotent and always safe to
 * run in full. A failing rollback step keeps the state (it is retried on the next run): an app
 * is never left half-way by design, only paused half-way until the engine answers again.
 */
import type { ErrorRecord } from './errors.ts';

/**
 * Forward steps, in the order they run. The old container is parked (renamed) and the new one
 * created while the old still serves: the app is down only from StopOld to the new version's
 * start, not while molt creates containers.
 */
export const FORWARD_STEPS = {
  install: ['EnsureImage', 'PrepareResources', 'CreateNew', 'StartNew', 'AwaitReady'],
  upgrade: [
    'EnsureImage',
    'PrepareResources',
    'FetchScripts',
    'SnapshotVolumes',
    'PreUpgrade',
    'RenameOld',
    'CreateNew',
    'StopOld',
    'StartNew',
    'PostUpgrade',
    'AwaitReady',
    // The monitor window (spec.upgrade.monitorSeconds): a failure here still rolls back.
    'MonitorNew',
    'RemoveOld',
    'PruneSnapshots',
  ],
} as const;

/** Rollback steps, in the order they run. */
export const ROLLBACK_STEPS = {
  install: ['RemoveNew'],
  upgrade: ['RemoveNew', 'RestoreVolumes', 'RestoreOldName', 'StartOld', 'AwaitOld'],
} as const;

/** The two kinds of operation: a first install, or the replacement of a running version. */
export type OperationKind = keyof typeof FORWARD_STEPS;
export type ForwardStep = (typeof FORWARD_STEPS)[OperationKind][number];
export type RollbackStep = (typeof ROLLBACK_STEPS)[OperationKind][number];
export type StepName = ForwardStep | RollbackStep;

/**
 * Forward steps after which the old instance still runs as it was: a failure there needs no
 * rollback. The pre-upgrade script runs inside the old instance, which keeps running when it
 * fails (seed 000), so it is one of them.
 */
export const SAFE_STEPS: ReadonlySet<StepName> = new Set([
  'EnsureImage',
  'PrepareResources',
  'FetchScripts',
  'SnapshotVolumes',
  'PreUpgrade',
]);
/** Forward steps after which the new version is live: a failure there is cleanup, not a reason to go back. */
export const COMMITTED_STEPS: ReadonlySet<StepName> = new Set(['RemoveOld', 'PruneSnapshots']);

/** Where an operation is. */
export type OperationState =
  | { phase: 'Progressing'; step: ForwardStep }
  | { phase: 'RollingBack'; step: RollbackStep; cause: ErrorRecord }
  | { phase: 'Succeeded'; warnings: string[] }
  | { phase: 'Aborted'; cause: ErrorRecord }
  | { phase: 'RolledBack'; cause: ErrorRecord };

/** What happened to the step the state names. */
export type StepEvent = { type: 'StepSucceeded' } | { type: 'StepFailed'; error: ErrorRecord };

/** The state an operation of this kind starts in. */
export function initialState(kind: OperationKind): OperationState {
  return { phase: 'Progressing', step: FORWARD_STEPS[kind][0] };
}

/** True when the operation is over and nothing more will run. */
export function isFinal(state: OperationState): boolean {
  return state.phase === 'Succeeded' || state.phase === 'Aborted' || state.phase === 'RolledBack';
}

/** The one transition function: the next state after `event` happened to the current step. */
export function transition(kind: OperationKind, state: OperationState, event: StepEvent): OperationState {
  switch (state.phase) {
    case 'Progressing':
      return event.type === 'StepSucceeded'
        ? afterForward(kind, state.step)
        : afterForwardFailure(kind, state.step, event.error);
    case 'RollingBack':
      return event.type === 'StepSucceeded' ? afterRollback(kind, state.step, state.cause) : state;
    default:
      throw new Error(`internal: no transition from final phase ${state.phase}`);
  }
}

/** A failure forced from outside (interrupt, deadline) while a step runs. */
export function abort(kind: OperationKind, state: OperationState, error: ErrorRecord): OperationState {
  return state.phase === 'Progressing' ? afterForwardFailure(kind, state.step, error) : state;
}

function afterForward(kind: OperationKind, step: ForwardStep): OperationState {
  const steps: readonly ForwardStep[] = FORWARD_STEPS[kind];
  const next = steps[steps.indexOf(step) + 1];
  return next === undefined ? { phase: 'Succeeded', warnings: [] } : { phase: 'Progressing', step: next };
}

function afterForwardFailure(kind: OperationKind, step: ForwardStep, cause: ErrorRecord): OperationState {
  if (SAFE_STEPS.has(step)) return { phase: 'Aborted', cause };
  if (COMMITTED_STEPS.has(step)) return { phase: 'Succeeded', warnings: [`${step} did not finish: ${cause.message}`] };
  return { phase: 'RollingBack', step: ROLLBACK_STEPS[kind][0], cause };
}

function afterRollback(kind: OperationKind, step: RollbackStep, cause: ErrorRecord): OperationState {
  const steps: readonly RollbackStep[] = ROLLBACK_STEPS[kind];
  const next = steps[steps.indexOf(step) + 1];
  return next === undefined ? { phase: 'RolledBack', cause } : { phase: 'RollingBack', step: next, cause };
}
