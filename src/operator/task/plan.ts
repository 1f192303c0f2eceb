/**
 * What the task worker does to one App on Kubernetes (pure): the core's decision for an
 * inline app (core/task.ts decideTarget: skip, refuse with the reason, or the new version and
 * image from imageTemplate), and for an App that runs a Release the move to `toRelease` —
 * which the operator checks with the core's release rules (upgradable, newer, same package)
 * and refuses visibly when they do not hold. As a change of spec fields: what to set, and
 * what to set back if the attempt fails.
 */
import { decideNonInlineTarget, decideTarget, type UpgradeTaskSpec } from '../../core/task.ts';
import { desiredOf } from '../app/observe.ts';
import type { RolloutExpectation, AppLike } from './rollout.ts';
import { unsettledReason } from './rollout.ts';

/** The App spec fields a task changes. */
export interface SpecFields {
  version?: string;
  image?: string;
  release?: string;
}

/** What to do to one target. */
export type TargetPlan =
  | { action: 'skip' | 'refuse'; reason: string; message: string }
  | { action: 'upgrade'; from: SpecFields; to: SpecFields; message: string; warnings: string[] };

/** The plan for the App `name` as it is now (undefined: it no longer exists). */
export function planTarget(spec: UpgradeTaskSpec, name: string, app: AppLike | undefined): TargetPlan {
  if (!app)
    return { action: 'refuse', reason: 'AppNotFound', message: `app "${name}" no longer exists in the namespace` };
  if (app.spec && 'release' in app.spec) return planRelease(spec, name, app);
  if (
    spec.toVersion !== undefined &&
    app.spec?.['version'] === spec.toVersion &&
    app.status?.installedVersion === spec.toVersion &&
    !app.status.upgrade
  ) {
    return { action: 'skip', reason: 'AlreadyAtTarget', message: `already at ${spec.toVersion}; nothing to do` };
  }
  const unsettled = unsettledReason(app);
  if (unsettled) return { action: 'refuse', ...unsettled };
  const desired = desiredOf({ ...app, metadata: { ...app.metadata }, status: {} });
  if (!desired.ok) return { action: 'refuse', reason: desired.reason, message: desired.message };
  const d = decideTarget(spec, name, desired.manifest);
  if (d.action !== 'upgrade') return d;
  const installed = desired.manifest.spec;
  return {
    action: 'upgrade',
    from: { version: installed.version, image: installed.image },
    to: { version: d.manifest.spec.version, image: d.manifest.spec.image },
    message: d.message,
    warnings: d.warnings,
  };
}

function planRelease(spec: UpgradeTaskSpec, name: string, app: AppLike): TargetPlan {
  const current = String(app.status?.release ?? app.spec?.['release']);
  if (spec.toRelease === undefined || spec.toRelease === current) {
    const d = decideNonInlineTarget(spec, name, { kind: 'release', release: current });
    return d.action === 'upgrade'
      ? { action: 'refuse', reason: 'Internal', message: 'unexpected upgrade decision for a release app' }
      : d;
  }
  const unsettled = unsettledReason(app);
  if (unsettled) return { action: 'refuse', ...unsettled };
  return {
    action: 'upgrade',
    from: { release: current },
    to: { release: spec.toRelease },
    message: `release ${current} → ${spec.toRelease}`,
    warnings: [],
  };
}

/** The fields as a target status records them. */
export function targetFields(from: SpecFields, to: SpecFields): Record<string, string> {
  const out: Record<string, string> = {};
  if (from.version) out['fromVersion'] = from.version;
  if (from.image) out['fromImage'] = from.image;
  if (from.release) out['fromRelease'] = from.release;
  if (to.version) out['toVersion'] = to.version;
  if (to.image) out['toImage'] = to.image;
  if (to.release) out['toRelease'] = to.release;
  return out;
}

/** The fields a target status recorded (from or to). */
export function fieldsOf(
  t: {
    fromVersion?: string | undefined;
    fromImage?: string | undefined;
    fromRelease?: string | undefined;
    toVersion?: string | undefined;
    toImage?: string | undefined;
    toRelease?: string | undefined;
  },
  side: 'from' | 'to',
): SpecFields {
  const f =
    side === 'from'
      ? { version: t.fromVersion, image: t.fromImage, release: t.fromRelease }
      : { version: t.toVersion, image: t.toImage, release: t.toRelease };
  if (f.release) return { release: f.release };
  return { ...(f.version ? { version: f.version } : {}), ...(f.image ? { image: f.image } : {}) };
}

/** True when the App's spec carries exactly these fields' values. */
export function specHas(app: AppLike | undefined, fields: SpecFields): boolean {
  const entries = Object.entries(fields);
  return app?.spec !== undefined && entries.length > 0 && entries.every(([k, v]) => app.spec?.[k] === v);
}

/** What the rollout to `to` is expected to show. */
export function expectationOf(to: SpecFields, generation: number, since: string): RolloutExpectation {
  return {
    ...(to.release ? { toRelease: to.release } : { toVersion: to.version ?? '', toImage: to.image ?? '' }),
    generation,
    since,
  };
}

/** A one-line description of the fields, e.g. "2.0.0 (r/web:2.0.0)" or "release db-2". */
export function describeFields(f: SpecFields): string {
  return f.release ? `release ${f.release}` : `${f.version ?? '?'} (${f.image ?? '?'})`;
}
