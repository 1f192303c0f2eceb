/**
 * How the task worker reads an App on Kubernetes (pure): whether it is settled enough to be
 * a target, where the rollout the worker started stands, and whether the result verifies.
 * Only the App's own status is read — the operator writes it once per pass — so the worker
 * needs no access to StatefulSets or pods.
 */
import type { AppStatus } from '../crd/status.ts';

/** An App object as the worker reads it. */
export interface AppLike {
  metadata: { name?: string; generation?: number; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: AppStatus;
}

/** What the worker expects of a rollout it started: an inline app's version and image, or a release app's release. */
export interface RolloutExpectation {
  toVersion?: string;
  toImage?: string;
  toRelease?: string;
  /** The App's generation the worker's patch produced: older statuses are not about it. */
  generation: number;
  /** When the attempt started (RFC 3339): an older lastUpgrade is another attempt's. */
  since: string;
}

/** Where a rollout stands. */
export type RolloutVerdict =
  | { state: 'waiting'; message: string }
  | { state: 'upgraded'; message: string }
  | { state: 'failed'; phase: 'RolledBack' | 'Aborted'; reason: string; message: string }
  | { state: 'refused'; reason: string; message: string };

function condition(app: AppLike, type: string) {
  return app.status?.conditions?.find((c) => c.type === type);
}

/**
 * Undefined when the App runs what its spec says (installed, no upgrade in flight, the spec
 * at the installed version); else why it cannot be a target now.
 */
export function unsettledReason(app: AppLike): { reason: string; message: string } | undefined {
  const s = app.status ?? {};
  if (app.spec && 'release' in app.spec) return unsettledRelease(app);
  const want = typeof app.spec?.['version'] === 'string' ? app.spec['version'] : undefined;
  if (!s.installedVersion)
    return {
      reason: 'NotInstalled',
      message: `app "${app.metadata.name}" has no installed version yet (phase ${s.phase ?? 'unknown'})`,
    };
  if (s.upgrade)
    return {
      reason: 'AppBusy',
      message: `app "${app.metadata.name}" is ${s.upgrade.state} ${s.upgrade.from ?? ''} → ${s.upgrade.to}; run the task when it is over`,
    };
  if (want !== s.installedVersion) {
    const last = s.lastUpgrade;
    const failed = last && last.to === want && last.outcome !== 'Succeeded' ? ` (${last.outcome}: ${last.reason})` : '';
    return {
      reason: 'AppNotSettled',
      message: `app "${app.metadata.name}" runs ${s.installedVersion} but its spec asks for ${want ?? '<none>'}${failed}; set spec.version back to ${s.installedVersion} (or fix the App) first`,
    };
  }
  return undefined;
}

/** Where the rollout to `expect` stands, from the App's status. */
export function rolloutVerdict(app: AppLike, expect: RolloutExpectation): RolloutVerdict {
  const s = app.status ?? {};
  if ((s.observedGeneration ?? 0) < expect.generation)
    return { state: 'waiting', message: 'the operator has not seen the change yet' };
  if (s.upgrade) {
    return {
      state: 'waiting',
      message: `${s.upgrade.state} ${s.upgrade.from ?? ''} → ${s.upgrade.to}${s.upgrade.cause ? ` (${s.upgrade.cause})` : ''}`,
    };
  }
  const last = s.lastUpgrade;
  const to = expect.toRelease ?? expect.toVersion;
  const recent = last && last.to === to && (last.finishedAt ?? '') >= expect.since;
  if (recent && last.outcome !== 'Succeeded') {
    return {
      state: 'failed',
      phase: last.outcome,
      reason: last.reason,
      message: `${last.message}; the operator ${last.outcome === 'RolledBack' ? 'rolled the app back' : 'aborted before touching the app'}`,
    };
  }
  const ready = condition(app, 'Ready');
  const arrived =
    expect.toRelease !== undefined
      ? s.release === expect.toRelease
      : s.installedVersion === expect.toVersion && s.image === expect.toImage;
  if (arrived) {
    return ready?.status === 'True'
      ? { state: 'upgraded', message: `${to} is running and ready` }
      : { state: 'waiting', message: `${to} installed; ${ready?.message ?? 'not ready yet'}` };
  }
  const progressing = condition(app, 'Progressing');
  if (
    progressing?.status === 'False' &&
    progressing.observedGeneration !== undefined &&
    progressing.observedGeneration >= expect.generation
  ) {
    if (
      ['Refused', 'Invalid'].some((k) => progressing.reason.endsWith(k)) ||
      progressing.reason === 'InvalidSpec' ||
      progressing.reason === 'RolledBack' ||
      progressing.reason === 'Aborted'
    ) {
      return { state: 'refused', reason: progressing.reason, message: progressing.message };
    }
  }
  return { state: 'waiting', message: progressing?.message ?? `phase ${s.phase ?? 'unknown'}` };
}

/** What does not hold after an upgrade (empty: verified): version or release, image, readiness, every member. */
export function verifyProblems(app: AppLike, expect: RolloutExpectation): string[] {
  const s = app.status ?? {};
  const problems: string[] = [];
  if (condition(app, 'Ready')?.status !== 'True')
    problems.push(`not ready: ${condition(app, 'Ready')?.message ?? 'no Ready condition'}`);
  if (expect.toRelease !== undefined) {
    if (s.release !== expect.toRelease) problems.push(`release is ${s.release ?? '<none>'}, not ${expect.toRelease}`);
    const members = (s.roles ?? []).flatMap((r) => r.members ?? []);
    const stale = members
      .filter((m) => m.release !== expect.toRelease || !m.ready)
      .map((m) => `${m.name} (${m.release ?? '?'}${m.ready ? '' : ', not ready'})`);
    if (stale.length > 0) problems.push(`members not on ${expect.toRelease}: ${stale.join(', ')}`);
    if (members.length === 0) problems.push('no members reported');
    return problems;
  }
  if (s.installedVersion !== expect.toVersion)
    problems.push(`installedVersion is ${s.installedVersion ?? '<none>'}, not ${expect.toVersion}`);
  if (s.image !== expect.toImage) problems.push(`image is ${s.image ?? '<none>'}, not ${expect.toImage}`);
  const stale = (s.members ?? [])
    .filter((m) => m.version !== expect.toVersion || !m.ready)
    .map((m) => `${m.name} (${m.version ?? '?'}${m.ready ? '' : ', not ready'})`);
  if (stale.length > 0) problems.push(`members not on ${expect.toVersion}: ${stale.join(', ')}`);
  if ((s.members ?? []).length === 0) problems.push('no members reported');
  return problems;
}

/** unsettledReason for an App that runs a Release: it must run the release its spec names. */
function unsettledRelease(app: AppLike): { reason: string; message: string } | undefined {
  const s = app.status ?? {};
  const want = app.spec?.['release'];
  if (!s.release)
    return {
      reason: 'NotInstalled',
      message: `app "${app.metadata.name}" runs no release yet (phase ${s.phase ?? 'unknown'})`,
    };
  if (s.upgrade)
    return {
      reason: 'AppBusy',
      message: `app "${app.metadata.name}" is ${s.upgrade.state} ${s.upgrade.from ?? ''} → ${s.upgrade.to}; run the task when it is over`,
    };
  if (want !== s.release)
    return {
      reason: 'AppNotSettled',
      message: `app "${app.metadata.name}" runs release ${s.release} but its spec names ${String(want)}; set spec.release back to ${s.release} (or fix the App) first`,
    };
  return undefined;
}
