/**
 * The rules both engines follow, defined once: the failure classification (`FailureCode`
 * and its table), the reasons of conditions and Events, the readiness budget and the pod
 * failure rule, the post-upgrade retry rule, pause-or-rollback, and "a rollback may
 * downgrade". Pure, no I/O. Runner and operator import these; no engine file computes a policy.
 */
export { FAILURES, isFailureCode, isRetryable, type FailureCode, type FailureInfo } from './failures.ts';
export type { ProgressReason, Reason } from './reasons.ts';
export {
  fatalWaiting,
  podFailure,
  readyBudgetMs,
  START_SLACK_MS,
  upgradeFailureThreshold,
  type PodFailure,
  type PodState,
} from './readiness.ts';
export {
  downgradeWarning,
  isDowngradeWarning,
  onMemberFailure,
  permitDowngrade,
  postUpgradeRetryDelayMs,
  retryPostUpgrade,
} from './upgrade-rules.ts';
