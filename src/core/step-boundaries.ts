/**
 * The named steps of the procedures built on top of the single-member state machine
 * (upgrade-machine.ts): a release app's rollout and an UpgradeTask worker's run. The runner
 * passes each boundary (before and after every step) through the test hook `killPoint`, and
 * the kill-point tests generate their matrix from these lists, so a step added here is
 * covered automatically. Names never repeat those of FORWARD_STEPS / ROLLBACK_STEPS, so one
 * `MOLT_TEST_KILL_AT` names exactly one kind of boundary.
 */

/** The steps of a release app's rollout, in the order one rollout passes them. */
export const ROLLOUT_STEPS = {
  /**
   * Rolling a new release out: the rollout is journaled (app `updating`), then per member the
   * member's own upgrade and its `--pod_upgraded` hook, per role `--role_upgraded`, at the end
   * `--cluster_upgraded` and the final status.
   */
  upgrade: [
    'BeginRollout',
    'UpgradeMember',
    'PodUpgradedHook',
    'RoleUpgradedHook',
    'ClusterUpgradedHook',
    'FinishRollout',
  ],
  /**
   * Going back after a failed member: the app is marked rolling back, then each touched member
   * is reverted with `--pod_reverted`, per role `--role_reverted`, at the end
   * `--cluster_reverted` and the final status.
   */
  rollback: [
    'BeginRevert',
    'RevertMember',
    'PodRevertedHook',
    'RoleRevertedHook',
    'ClusterRevertedHook',
    'FinishRevert',
  ],
} as const;

/** A step of a release app's rollout. */
export type RolloutStep = (typeof ROLLOUT_STEPS)[keyof typeof ROLLOUT_STEPS][number];

/**
 * The steps of an UpgradeTask worker's run, in order: the task marked Started, the targets
 * selected and journaled, per target its attempt journaled Running (then the app's own
 * upgrade, FORWARD_STEPS) and its outcome settled, and the task's final phase.
 */
export const TASK_STEPS = ['StartTask', 'JournalTargets', 'StartTarget', 'SettleTarget', 'FinishTask'] as const;

/** A step of an UpgradeTask worker's run. */
export type TaskStep = (typeof TASK_STEPS)[number];

/** Where around a step a boundary lies. */
export type Boundary = 'before' | 'after';

/** Every boundary of `steps` as `<Step>:before` and `<Step>:after`, in order: the kill points of a path. */
export function boundaries(steps: readonly string[]): string[] {
  return steps.flatMap((s) => [`${s}:before`, `${s}:after`]);
}
