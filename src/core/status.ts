/**
 * The status an app shows (`molt get app X -o json`), and how operation progress maps onto it.
 * Conditions follow the Kubernetes shape: type, status True|False|Unknown, CamelCase reason,
 * message and lastTransitionTime, so the operator can publish the same object.
 */
import type { ErrorRecord } from './errors.ts';
import type { Reason } from './policy/reasons.ts';
import type { OperationKind, OperationState } from './upgrade-machine.ts';
import type { ContainerStatus } from './observed.ts';

/** Degraded and Stopped come from observing the engine (observed.ts), never from the journal. */
export type AppPhase = 'Installing' | 'Running' | 'Upgrading' | 'RollingBack' | 'Failed' | 'Degraded' | 'Stopped';

/** One condition of an app. */
export interface Condition {
  type: 'Ready' | 'Progressing';
  status: 'True' | 'False' | 'Unknown';
  reason: Reason;
  message: string;
  lastTransitionTime: string;
}

/** The outcome of the latest install/upgrade/rollback attempt. */
export interface LastUpgrade {
  operation: number;
  kind: OperationKind | 'rollback';
  from?: string;
  to: string;
  outcome: 'InProgress' | 'Succeeded' | 'RolledBack' | 'Aborted';
  error?: ErrorRecord;
  warnings?: string[];
  startedAt: string;
  finishedAt?: string;
}

/** What `molt get app` shows. */
export interface AppStatus {
  phase: AppPhase;
  installedVersion?: string;
  image?: string;
  /** The digest the installed version runs: its registry digest, else the local image ID. */
  imageDigest?: string;
  containerId?: string;
  ip?: string;
  conditions: Condition[];
  lastUpgrade?: LastUpgrade;
  /** Observed on every `get`: the app's container as the engine shows it. */
  container?: ContainerStatus;
  /** Restarts of the container by the engine's restart policy (when the engine was asked in detail). */
  restartCount?: number;
}

/** The phase an app is in while its operation is in `state`. */
export function phaseFor(kind: OperationKind, state: OperationState, hasRunningVersion: boolean): AppPhase {
  switch (state.phase) {
    case 'Progressing':
      return kind === 'install' ? 'Installing' : 'Upgrading';
    case 'RollingBack':
      return 'RollingBack';
    case 'Succeeded':
      return 'Running';
    case 'Aborted':
    case 'RolledBack':
      return hasRunningVersion ? 'Running' : 'Failed';
  }
}

/** Sets a condition, keeping lastTransitionTime when its status did not change. */
export function setCondition(
  conditions: Condition[],
  next: Omit<Condition, 'lastTransitionTime'>,
  now: string,
): Condition[] {
  const prev = conditions.find((c) => c.type === next.type);
  const lastTransitionTime = prev && prev.status === next.status ? prev.lastTransitionTime : now;
  return [...conditions.filter((c) => c.type !== next.type), { ...next, lastTransitionTime }];
}

/** The conditions that describe an operation in `state`. */
export function conditionsFor(conditions: Condition[], state: OperationState, to: string, now: string): Condition[] {
  switch (state.phase) {
    case 'Progressing':
      return setCondition(
        conditions,
        { type: 'Progressing', status: 'True', reason: 'Upgrading', message: `moving to ${to}: ${state.step}` },
        now,
      );
    case 'RollingBack':
      return setCondition(
        conditions,
        {
          type: 'Progressing',
          status: 'True',
          reason: 'RollingBack',
          message: `rolling back (${state.step}) after: ${state.cause.message}`,
        },
        now,
      );
    case 'Succeeded': {
      const ready = setCondition(
        conditions,
        { type: 'Ready', status: 'True', reason: 'Running', message: `${to} is running and ready` },
        now,
      );
      return setCondition(
        ready,
        {
          type: 'Progressing',
          status: 'False',
          reason: 'UpgradeSucceeded',
          message: state.warnings.join('; ') || `now at ${to}`,
        },
        now,
      );
    }
    case 'Aborted':
      return setCondition(
        conditions,
        {
          type: 'Progressing',
          status: 'False',
          reason: 'UpgradeAborted',
          message: `${state.cause.code}: ${state.cause.message} (nothing was changed)`,
        },
        now,
      );
    case 'RolledBack':
      return setCondition(
        conditions,
        {
          type: 'Progressing',
          status: 'False',
          reason: 'RolledBack',
          message: `${state.cause.code}: ${state.cause.message}`,
        },
        now,
      );
  }
}
