/**
 * Every way an operation, a member, a target or a pass can fail — one `FailureCode` union
 * and one table saying, for each, whether trying again without any change can help
 * (`retryable`) and what it means (`reason`, the text `molt describe`/docs show). Both engines
 * classify with it: the error classes of core/errors.ts and engines/*, the operator's pod
 * failures (readiness.ts), the causes journaled in the app's status and the reasons of
 * Kubernetes conditions and Warning Events.
 */

/** Why something failed: a stable CamelCase code, the `code` of errors and the `reason` of conditions. */
export type FailureCode =
  // bad input or a refused change: nothing was touched
  | 'InvalidInput'
  | 'InvalidSpec'
  | 'InvalidRelease'
  | 'DowngradeRefused'
  | 'NamespaceSwitchRefused'
  | 'PackageChangeRefused'
  | 'ChangeRefused'
  | 'VolumeChangeRefused'
  | 'ReleaseAppsNotSupported'
  | 'ReleaseNotFound'
  | 'NothingToRollBack'
  | 'RollbackInProgress'
  // the app or its engine
  | 'AppBusy'
  | 'AppNotFound'
  | 'NotInstalled'
  | 'AppNotSettled'
  | 'ImageUnavailable'
  | 'ImagePullFailed'
  | 'EngineUnavailable'
  | 'EngineError'
  | 'NoFreeAddress'
  | 'SnapshotFailed'
  // the new version did not come up
  | 'ContainerExited'
  | 'ContainerOOMKilled'
  | 'ProbeFailed'
  | 'ContainerCrashLooping'
  | 'ContainerConfigInvalid'
  | 'ContainerRestarted'
  | 'PodFailed'
  | 'ReadyTimeout'
  // a steady app as the engine shows it
  | 'EngineUnreachable'
  | 'ContainerMissing'
  | 'Unhealthy'
  | 'OOMKilled'
  | 'Error'
  | 'MembersNotRunning'
  | 'DependencyCycle'
  // seed 002 on containers molt did not create
  | 'ContainerNotFound'
  // reading an image from a registry (engines/registry)
  | 'ImageReferenceInvalid'
  | 'ImageNotFound'
  | 'RegistryUnauthorized'
  | 'RegistryUnavailable'
  | 'ManifestInvalid'
  | 'PlatformNotFound'
  | 'RegistryError'
  | 'ImageUnreadable'
  // upgrade scripts and lifecycle hooks
  | 'PreUpgradeFailed'
  | 'PostUpgradeFailed'
  | 'ScriptTimeout'
  | 'ScriptInvalid'
  | 'ScriptInterrupted'
  | 'HookFailed'
  // stopped from outside, or a rollback on its way
  | 'Interrupted'
  | 'Timeout'
  | 'Cancelled'
  | 'RollbackRequested'
  | 'RollbackIncomplete'
  | 'RollbackStuck'
  // UpgradeTasks and their targets
  | 'TaskNotFound'
  | 'TaskBusy'
  | 'TaskImmutable'
  | 'InventoryNotFound'
  | 'InventoryInUse'
  | 'EndpointUnusable'
  | 'MemberOfReleaseApp'
  | 'ToReleaseRequired'
  | 'ReleaseRolloutNotSupported'
  | 'ReleaseNotSupported'
  | 'RolesNotSupported'
  | 'FromVersionMismatch'
  | 'ImageNotDerivable'
  | 'OperationInFlight'
  | 'ApplyFailed'
  | 'VerifyFailed'
  | 'MaxFailureRatioExceeded'
  | 'JobFailed'
  | 'WorkerExitedEarly'
  // the Kubernetes API
  | 'KubeApiError'
  | 'KubeNotFound'
  | 'KubeAlreadyExists'
  | 'KubeConflict'
  | 'KubeInvalid'
  | 'KubeForbidden'
  | 'KubeUnauthorized'
  | 'KubeGone'
  | 'KubeThrottled'
  | 'KubeUnavailable'
  | 'KubeExecFailed'
  | 'KubeConfigInvalid'
  // the CLI and the operator process
  | 'Usage'
  | 'CrdsNotInstalled'
  | 'ApplyConflict'
  | 'WaitTimeout'
  | 'NotPausable'
  | 'InvalidInstance'
  // a pass of the operator failed; anything else
  | 'ReconcileError'
  | 'Failed'
  | 'Internal';

/** What one failure code means. */
export interface FailureInfo {
  /** True when the same call may succeed later without any change by the user. */
  retryable: boolean;
  /** What happened, in one line. */
  reason: string;
}

/** Every failure code with its meaning. `satisfies` makes a code without an entry a type error. */
export const FAILURES = {
  InvalidInput: { retryable: false, reason: 'the input (a manifest or a flag) is invalid' },
  InvalidSpec: { retryable: false, reason: "the object's spec is invalid" },
  InvalidRelease: { retryable: false, reason: 'the Release the app names is invalid' },
  DowngradeRefused: { retryable: false, reason: 'a lower version without forceUpgrade' },
  NamespaceSwitchRefused: { retryable: false, reason: 'the package namespace changes without allowNamespaceSwitch' },
  PackageChangeRefused: { retryable: false, reason: 'the package name changes' },
  ChangeRefused: { retryable: false, reason: 'the upgrade rules do not allow this change now' },
  VolumeChangeRefused: { retryable: false, reason: "the set of volumes changes (a StatefulSet's claims cannot)" },
  ReleaseAppsNotSupported: { retryable: false, reason: 'this path does not run release apps' },
  ReleaseNotFound: { retryable: true, reason: 'the Release the app names does not exist (yet)' },
  NothingToRollBack: { retryable: false, reason: 'there is no previous version to go back to' },
  RollbackInProgress: { retryable: true, reason: 'a rollback is already running' },
  AppBusy: { retryable: true, reason: 'another operation holds the app' },
  AppNotFound: { retryable: false, reason: 'the app does not exist' },
  NotInstalled: { retryable: true, reason: 'the app has no installed version yet' },
  AppNotSettled: { retryable: true, reason: "the app's spec asks for something it does not run" },
  ImageUnavailable: { retryable: false, reason: 'the image is neither present nor pullable' },
  ImagePullFailed: { retryable: false, reason: 'the image could not be pulled' },
  EngineUnavailable: { retryable: true, reason: 'no container engine answers' },
  EngineError: {
    retryable: false,
    reason: 'the engine answered with an error (retryable for 5xx other than "not found")',
  },
  NoFreeAddress: { retryable: false, reason: 'the network has no free address' },
  SnapshotFailed: { retryable: false, reason: 'a volume snapshot could not be saved or restored' },
  ContainerExited: { retryable: false, reason: 'the new container exited (or vanished) before it was ready' },
  ContainerOOMKilled: { retryable: false, reason: 'the new container was killed for lack of memory' },
  ProbeFailed: { retryable: false, reason: 'the startup probe failed more often than its budget allows' },
  ContainerCrashLooping: { retryable: false, reason: 'the new container keeps crashing (CrashLoopBackOff)' },
  ContainerConfigInvalid: { retryable: false, reason: 'the new container cannot be created or run as configured' },
  ContainerRestarted: { retryable: false, reason: 'the new container restarted and is not ready' },
  PodFailed: { retryable: false, reason: 'the new pod failed' },
  EngineUnreachable: {
    retryable: true,
    reason: "the container engine did not answer; the status shown is molt's record",
  },
  ContainerMissing: { retryable: false, reason: "the app's container is gone; apply, start or up recreates it" },
  Unhealthy: { retryable: true, reason: 'the container runs but its healthcheck fails' },
  OOMKilled: { retryable: false, reason: 'the container was killed for lack of memory' },
  Error: { retryable: false, reason: 'the container exited with a non-zero code' },
  MembersNotRunning: { retryable: false, reason: 'members of a release app are not running' },
  DependencyCycle: { retryable: false, reason: 'spec.dependsOn of the installed apps forms a cycle' },
  ImageReferenceInvalid: { retryable: false, reason: 'the image reference is not valid' },
  ImageNotFound: { retryable: false, reason: 'the registry has no such image, tag or digest' },
  RegistryUnauthorized: { retryable: false, reason: 'the registry refused the credentials (or none were given)' },
  RegistryUnavailable: { retryable: true, reason: 'the registry did not answer' },
  ManifestInvalid: { retryable: false, reason: 'the registry served a damaged or unknown manifest' },
  PlatformNotFound: { retryable: false, reason: 'the image has no manifest for this platform' },
  RegistryError: { retryable: false, reason: 'the registry answered with an error' },
  ImageUnreadable: { retryable: true, reason: "the new image's labels could not be read from its registry" },
  ContainerNotFound: { retryable: false, reason: 'no container of that name or id on the engine' },
  ReadyTimeout: { retryable: false, reason: 'the new version was not ready within its readiness budget' },
  PreUpgradeFailed: { retryable: false, reason: 'the pre-upgrade script failed' },
  PostUpgradeFailed: { retryable: false, reason: 'the post-upgrade script failed' },
  ScriptTimeout: { retryable: false, reason: 'an upgrade script did not finish in time' },
  ScriptInvalid: { retryable: false, reason: 'an upgrade script cannot be used (missing, not a file, too large)' },
  ScriptInterrupted: { retryable: true, reason: 'a script run was killed before it finished; it runs again' },
  HookFailed: { retryable: false, reason: 'a lifecycle hook exited non-zero' },
  Interrupted: { retryable: false, reason: 'interrupted (Ctrl-C, SIGTERM, a stopped worker)' },
  Timeout: { retryable: false, reason: 'the deadline passed' },
  Cancelled: { retryable: false, reason: 'cancelled by the user' },
  RollbackRequested: { retryable: false, reason: 'the user asked for the rollback' },
  RollbackIncomplete: { retryable: true, reason: 'a rollback could not finish; it stays in flight' },
  RollbackStuck: { retryable: true, reason: 'a rollback waits for the old version to become ready' },
  TaskNotFound: { retryable: false, reason: 'the task does not exist' },
  TaskBusy: { retryable: true, reason: 'a worker is already running the task' },
  TaskImmutable: { retryable: false, reason: "a started task's spec cannot change" },
  InventoryNotFound: { retryable: false, reason: "the task's Inventory does not exist" },
  InventoryInUse: { retryable: false, reason: 'a running task uses the Inventory' },
  EndpointUnusable: { retryable: false, reason: 'an inventory endpoint cannot be used as written' },
  MemberOfReleaseApp: { retryable: false, reason: "a member changes only through its app's rollout" },
  ToReleaseRequired: { retryable: false, reason: 'a release app moves to a release, not a version' },
  ReleaseRolloutNotSupported: { retryable: false, reason: 'UpgradeTask does not roll out releases here' },
  ReleaseNotSupported: { retryable: false, reason: 'the target runs a release this task cannot move' },
  RolesNotSupported: { retryable: false, reason: 'the release changes roles the app runs' },
  FromVersionMismatch: { retryable: false, reason: "the app is not at the task's fromVersion" },
  ImageNotDerivable: { retryable: false, reason: 'the new image cannot be derived from the old one' },
  OperationInFlight: { retryable: true, reason: 'an operation is still in flight' },
  ApplyFailed: { retryable: false, reason: 'the change could not be written' },
  VerifyFailed: { retryable: false, reason: 'the upgraded app does not show the expected state' },
  MaxFailureRatioExceeded: { retryable: false, reason: 'more targets failed than maxFailureRatio allows' },
  JobFailed: { retryable: false, reason: 'the worker Job failed' },
  WorkerExitedEarly: { retryable: false, reason: 'the worker ended before the task did' },
  KubeApiError: { retryable: false, reason: 'the Kubernetes API answered with an error' },
  KubeNotFound: { retryable: false, reason: 'the object does not exist' },
  KubeAlreadyExists: { retryable: false, reason: 'the object exists already' },
  KubeConflict: { retryable: true, reason: 'the object changed at the same time' },
  KubeInvalid: { retryable: false, reason: 'Kubernetes rejected the object' },
  KubeForbidden: { retryable: false, reason: 'the service account lacks a permission' },
  KubeUnauthorized: { retryable: false, reason: 'the credentials were refused' },
  KubeGone: { retryable: true, reason: 'a watch or list expired' },
  KubeThrottled: { retryable: true, reason: 'the API server throttles' },
  KubeUnavailable: { retryable: true, reason: 'the Kubernetes API does not answer' },
  KubeExecFailed: { retryable: true, reason: 'a command in a pod could not be run' },
  KubeConfigInvalid: { retryable: false, reason: 'the kubeconfig cannot be used' },
  Usage: { retryable: false, reason: 'the command line is invalid' },
  CrdsNotInstalled: { retryable: false, reason: "molt's CRDs are not installed on the cluster" },
  ApplyConflict: { retryable: false, reason: 'another field manager owns the fields' },
  WaitTimeout: { retryable: true, reason: 'the operation is not done within --timeout; it goes on in the cluster' },
  NotPausable: { retryable: false, reason: 'nothing to pause or resume' },
  InvalidInstance: { retryable: false, reason: 'the operator instance name is invalid' },
  ReconcileError: { retryable: true, reason: 'a reconcile pass failed; it is retried with back-off' },
  Failed: { retryable: false, reason: 'failed' },
  Internal: { retryable: false, reason: 'an unexpected error (a bug): see the message' },
} as const satisfies Record<FailureCode, FailureInfo>;

/** True when `code` is one of the failure codes. */
export function isFailureCode(code: string): code is FailureCode {
  return Object.hasOwn(FAILURES, code);
}

/** Whether trying again without a change can help; false for codes not in the table. */
export function isRetryable(code: string): boolean {
  return isFailureCode(code) && FAILURES[code].retryable;
}
