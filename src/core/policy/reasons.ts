/**
 * The reasons an app's conditions and its Kubernetes Events carry: a failure (`FailureCode`)
 * or one of the progress reasons below. CamelCase, stable: scripts and `kubectl get events
 * --field-selector reason=…` match on them.
 */
import type { FailureCode } from './failures.ts';

/** Reasons that describe progress or a steady state, not a failure. */
export type ProgressReason =
  // phases and steady states
  | 'Installing'
  | 'Installed'
  | 'Running'
  | 'Upgrading'
  | 'RollingBack'
  | 'Progressing'
  | 'UpToDate'
  | 'Blocked'
  | 'MembersNotReady'
  | 'AllMembersReady'
  | 'InstallFailed'
  | 'Converging'
  | 'SettingsRecorded'
  | 'Scaled'
  // observed states of a steady app (molt get/describe)
  | 'Degraded'
  | 'Failed'
  | 'StoppedByUser'
  | 'ContainerNotStarted'
  | 'ContainerPaused'
  | 'Completed'
  // outcomes of an operation or rollout
  | 'Upgraded'
  | 'UpgradeSucceeded'
  | 'UpgradeAborted'
  | 'Aborted'
  | 'RolledBack'
  | 'Succeeded'
  | 'Partitioned'
  | 'Unchanged'
  | 'Paused'
  | 'PauseRequested'
  | 'Resumed'
  // steps of an upgrade on Kubernetes (Events)
  | 'UpgradeWarning'
  | 'UpgradeStarted'
  | 'RollbackStarted'
  | 'ExecPodCreated'
  | 'ExecPodRemoved'
  | 'PreUpgradeSucceeded'
  | 'PostUpgradeSucceeded'
  | 'TemplateSwitched'
  | 'TemplateReverted'
  | 'TemplateRestored'
  | 'MemberRestarted'
  | 'MemberReverting'
  | 'MemberUpgraded'
  | 'MemberReverted'
  | 'RoleUpgraded'
  | 'RoleReverted'
  | 'HookSucceeded'
  | 'ScriptsResolved'
  // volume copies on Kubernetes (app/volume-copy.ts)
  | 'SnapshotStarted'
  | 'SnapshotTaken'
  | 'MemberHeld'
  | 'RestoreStarted'
  | 'VolumesRestored'
  | 'MemberReleased'
  | 'SnapshotsPruned'
  | 'CopyJobRemoved'
  // UpgradeTasks
  | 'AlreadyAtTarget'
  | 'Completed'
  | 'CompletedWithFailures'
  | 'NoTargets'
  | 'JobCreated'
  | 'JobSucceeded'
  | 'TaskFailed';

/** Any reason of a condition or Event. */
export type Reason = FailureCode | ProgressReason;
