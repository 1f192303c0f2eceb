/**
 * The rules both engines follow while an upgrade runs, beyond the state machine: when a failed
 * post-upgrade script is tried again, what a failed member of a release rollout leads to, and
 * that a rollback may go to a lower version.
 */
import type { AppManifest, UpgradeSettings } from '../model.ts';

/**
 * True when the post-upgrade script gets another attempt after `failedAttempts` failures:
 * only with `onFailure: retry`, up to `postUpgradeAttempts` attempts in all.
 */
export function retryPostUpgrade(
  upgrade: Pick<UpgradeSettings, 'onFailure' | 'postUpgradeAttempts'>,
  failedAttempts: number,
): boolean {
  return upgrade.onFailure === 'retry' && failedAttempts < upgrade.postUpgradeAttempts;
}

/** Milliseconds before the next post-upgrade attempt, after `failedAttempts` failures (1 s, 2 s, …). */
export function postUpgradeRetryDelayMs(failedAttempts: number): number {
  return 1000 * failedAttempts;
}

/** What a failed member of a release rollout leads to: stop where it is (pause) or revert the touched members. */
export function onMemberFailure(strategy: { onFailure: 'rollback' | 'pause' }): 'pause' | 'rollback' {
  return strategy.onFailure === 'pause' ? 'pause' : 'rollback';
}

/**
 * The manifest a rollback applies: going back to the version (or release member) that ran
 * before may go lower, so the downgrade rule is lifted (forceUpgrade); the other rules hold.
 */
export function permitDowngrade<M extends AppManifest>(manifest: M): M {
  return {
    ...manifest,
    spec: { ...manifest.spec, upgradeConfig: { ...manifest.spec.upgradeConfig, forceUpgrade: true } },
  };
}

/** The loud warning a forced downgrade gets (core/plan.ts). */
export function downgradeWarning(from: string, to: string): string {
  return `DOWNGRADE ${from} → ${to} forced with forceUpgrade: data written by ${from} may be unreadable by ${to}`;
}

/** True for downgradeWarning's text: a rollback the user asked for drops it. */
export function isDowngradeWarning(warning: string): boolean {
  return warning.startsWith('DOWNGRADE ');
}
