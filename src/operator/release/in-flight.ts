/**
 * What a change of an App means while its rollout is in flight on the cluster, by the core's
 * rule — decideReleaseApp with the in-flight state (`updating`, `prevRelease` = the journal's
 * `from`), the same call the local runner makes — never a copy of it.
 */
import { UpgradeRefusedError } from '../../core/errors.ts';
import type { FailureCode } from '../../core/policy/index.ts';
import { decideReleaseApp } from '../../core/release.ts';
import type { ReleaseAppManifest, ReleaseManifest } from '../../core/release-schema.ts';
import type { InstalledRelease, RoleJournal } from './template.ts';

/** Roll back, go on, or a refusal (reported while the rollout in flight goes on). */
export type InFlightDecision =
  | { action: 'rollback' | 'resume' }
  | { action: 'refuse'; reason: FailureCode; message: string };

/**
 * Roll back (spec.release set back to the journal's `from`), go on (the rollout's own spec), or
 * a refusal with the core's reason and message. A rollback in flight here is this operator's
 * own, so it is continued, never refused as "already running". Only the action is used: the
 * releases come from the journal.
 */
export function decideInFlight(
  desired: ReleaseAppManifest,
  journal: Pick<RoleJournal, 'from' | 'to'>,
  installed: InstalledRelease,
  target: ReleaseManifest | undefined,
): InFlightDecision {
  const current: ReleaseAppManifest = { ...desired, spec: { ...installed.app, release: journal.to } };
  try {
    const d = decideReleaseApp(
      desired,
      {
        manifest: current,
        release: installed.release,
        updating: true,
        isRollingBack: false,
        prevRelease: journal.from,
        membersBehind: 0,
      },
      target ?? installed.release,
    );
    return { action: d.action === 'rollback' ? 'rollback' : 'resume' };
  } catch (e) {
    if (e instanceof UpgradeRefusedError) return { action: 'refuse', reason: e.code, message: e.message };
    throw e;
  }
}
