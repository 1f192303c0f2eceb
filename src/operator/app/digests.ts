/**
 * Digests on Kubernetes: every install and upgrade records the digest it ran (the installed
 * record, status.imageDigest), the template pins a registry digest (`repo@sha256:…`), and a
 * `molt rollback` to an earlier version runs the digest that version ran — never what its tag
 * names today.
 */
import { MoltError, toErrorRecord, type ErrorRecord } from '../../core/errors.ts';
import type { AppSpec } from '../../core/model.ts';
import type { ResourceApi } from '../../engines/kubernetes/index.ts';
import { resolveTarget } from './image-info.ts';
import { specHash } from './template.ts';
import { digestOfImageID, type AppWorld, type InstalledRecord, type UpgradeJournal } from './world.ts';

const RAN_KEPT = 20;

/** The key of a version's image in the record of digests that ran. */
export function ranKey(spec: AppSpec): string {
  return `${spec.version} ${spec.image}`;
}

/** An installed record for `spec` running `digest`, carrying the digests that ran before. */
export function installedRecord(
  spec: AppSpec,
  digest: string | undefined,
  before: InstalledRecord | undefined,
): InstalledRecord {
  const ran = { ...before?.ran };
  if (digest?.startsWith('sha256:') && digest.length === 71) {
    delete ran[ranKey(spec)];
    ran[ranKey(spec)] = digest;
  }
  const kept = Object.entries(ran).slice(-RAN_KEPT);
  return {
    version: spec.version,
    hash: specHash(spec),
    spec,
    ...(digest ? { digest } : {}),
    ...(kept.length ? { ran: Object.fromEntries(kept) } : {}),
  };
}

/** The digest the members run, from their pods' imageID (a registry digest is pinnable; a loaded image's ID is not). */
export function podDigest(w: AppWorld): { digest: string; pinnable: boolean } | undefined {
  for (const m of w.members) {
    const d = digestOfImageID(m.pod?.imageID);
    if (d) return d;
  }
  return undefined;
}

/** What BeginUpgrade adds to the journal: the target's digest and scripts — or why the upgrade cannot start. */
export type UpgradeResolution =
  | { journal: Pick<UpgradeJournal, 'digest' | 'scripts'>; note?: string }
  | { failure: ErrorRecord };

/**
 * Resolves the upgrade's target image: a `molt rollback` to a version that ran before runs
 * that digest again; otherwise the tag's digest now. Scripts: spec.upgrade, else the labels.
 * A registry that does not answer is retried (thrown); a refusal ends the upgrade before
 * anything was touched.
 */
export async function resolveUpgrade(
  api: ResourceApi,
  namespace: string,
  installed: InstalledRecord,
  target: AppSpec,
  rollback: boolean,
  signal?: AbortSignal,
): Promise<UpgradeResolution> {
  const pinned = rollback ? installed.ran?.[ranKey(target)] : undefined;
  try {
    const t = await resolveTarget(api, namespace, target, pinned, signal);
    // The older version's scripts were written for upgrading TO it, not for going back (as locally).
    if (rollback) t.scripts = {};
    const scripts =
      Object.entries(t.scripts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || (rollback ? 'no scripts (not run when going back)' : 'no scripts');
    const what = t.digest
      ? `${target.image}${pinned ? ` at the digest ${target.version} ran before` : ''} is ${t.digest}`
      : `${target.image} is a local image`;
    return {
      journal: { ...(t.digest ? { digest: t.digest } : {}), scripts: t.scripts },
      note: `${what}; ${scripts} (from ${t.source})`,
    };
  } catch (e) {
    if (e instanceof MoltError && !e.retryable) return { failure: toErrorRecord(e) };
    throw e;
  }
}
