/**
 * `molt --kubeconfig K plan -f FILE`: what apply would do on the cluster — asked of the cluster,
 * never of the local store. Every document is validated locally first (file:line:col), then
 * sent as a server-side dry run (the API server's own validation, admission and field
 * ownership: whatever apply would meet); each App's change is decided by the core's rules
 * against what the operator recorded as installed (the StatefulSet's molt.dev/installed), plus
 * the rules a cluster adds (volume claims cannot change). Exit 0: nothing to do; 2: changes
 * pending; 1: an error or a refused change.
 */
import { UpgradeRefusedError } from '../core/errors.ts';
import type { DocumentOf } from '../core/manifest.ts';
import type { AppManifest } from '../core/model.ts';
import { decide, sameValue } from '../core/plan.ts';
import { API_VERSION, appDocument } from '../core/schema.ts';
import { releaseAppDocument, releaseDocument } from '../core/release-schema.ts';
import { RESOURCES, type StatefulSet } from '../engines/kubernetes/index.ts';
import { volumeChange } from '../operator/app/decide.ts';
import { ANNOTATIONS, statefulSetName } from '../operator/app/names.ts';
import { annotationJson, type InstalledRecord, type UpgradeJournal } from '../operator/app/world.ts';
import { reportError } from './commands.ts';
import { readManifests, type GlobalOptions } from './context.ts';
import { serverSideApply } from './kube-apply.ts';
import { connect, type MoltObject } from './kube-connect.ts';
import { requireSameNamespace, type KubeTarget } from './kube-target.ts';

type Doc = DocumentOf<'App' | 'Release' | 'ReleaseApp'>;
type Verdict = 'none' | 'pending' | 'error';

/** `molt plan -f FILE` against the cluster; returns the exit code. */
export async function kubePlanCommand(opts: GlobalOptions & { filename: string }): Promise<number> {
  const docs = await readManifests(opts.filename, ['App', 'Release', 'ReleaseApp'], {
    namespaces: true,
    cluster: true,
  });
  requireSameNamespace(docs, opts.namespace);
  const cluster = await connect(opts);
  let pending = false;
  let failed = false;
  for (const doc of [...docs.filter((d) => d.kind === 'Release'), ...docs.filter((d) => d.kind !== 'Release')]) {
    const t = doc.namespace ? { ...cluster, namespace: doc.namespace.name } : cluster;
    const verdict = await planDocument(t, doc).catch((e: unknown) => {
      reportError(e);
      return 'error' as const;
    });
    pending ||= verdict === 'pending';
    failed ||= verdict === 'error';
  }
  return failed ? 1 : pending ? 2 : 0;
}

async function planDocument(t: KubeTarget, doc: Doc): Promise<Verdict> {
  const name = doc.manifest.metadata.name;
  const release = doc.kind === 'Release';
  const type = release ? RESOURCES.releases : RESOURCES.apps;
  const namespace = release ? undefined : t.namespace;
  const live = await t.api.get<MoltObject>(type, namespace, name);
  // A change the rules refuse is reported as such before the dry run (which might only meet a field conflict).
  const installed =
    doc.kind === 'App' && live
      ? annotationJson<InstalledRecord>(
          await t.api.get<StatefulSet>(RESOURCES.statefulsets, t.namespace, statefulSetName(name)),
          ANNOTATIONS.installed,
        )
      : undefined;
  if (doc.kind === 'App' && installed) refusal(doc.manifest, installed, `app/${name}`);
  const dry = await serverSideApply(t, type, namespace, doc, true);
  // Defaults molt writes and kubectl does not are no change: compare what each spec means.
  const objectChanges = !live || (live.metadata.generation !== dry.metadata.generation && !sameMeaning(doc, live));
  if (live && objectChanges)
    process.stdout.write(
      `  fields the apply changes: ${changedPaths(live.spec, dry.spec).join(', ') || '(metadata)'}\n`,
    );
  const what = `${release ? 'release' : 'app'}/${name}${namespace ? ` (namespace ${namespace})` : ''}`;
  if (doc.kind !== 'App') {
    process.stdout.write(
      `${what}: ${!live ? 'would be created' : objectChanges ? 'would be configured' : 'no changes'}\n`,
    );
    return objectChanges ? 'pending' : 'none';
  }
  return planApp(t, doc.manifest, what, live, objectChanges);
}

async function planApp(
  t: KubeTarget,
  desired: AppManifest,
  what: string,
  live: MoltObject | undefined,
  objectChanges: boolean,
): Promise<Verdict> {
  const sts = live
    ? await t.api.get<StatefulSet>(RESOURCES.statefulsets, t.namespace, statefulSetName(desired.metadata.name))
    : undefined;
  const installed = annotationJson<InstalledRecord>(sts, ANNOTATIONS.installed);
  const journal = annotationJson<UpgradeJournal>(sts, ANNOTATIONS.upgrade);
  if (journal) {
    process.stdout.write(
      `${what}: ${journal.state === 'Upgrading' ? 'upgrade' : 'rollback'} ${journal.from} → ${journal.to} in flight on the cluster; ${objectChanges ? 'this change waits until it is over' : 'nothing more to do'}\n`,
    );
    return 'pending';
  }
  if (live && !installed) {
    process.stdout.write(
      `${what}: being installed by the operator (not yet running)${objectChanges ? '; the spec changes' : ''}\n`,
    );
    return 'pending';
  }
  const current = installed ? { ...desired, spec: installed.spec } : undefined;
  const d = decide(desired, current); // a refused change throws UpgradeRefusedError: exit 1, as locally
  if (d.action === 'none') {
    process.stdout.write(`${what}: no changes (${d.reason}${objectChanges ? '; the stored object changes' : ''})\n`);
    return objectChanges ? 'pending' : 'none';
  }
  if (d.action === 'record') {
    process.stdout.write(`${what}: settings recorded, no pod change (${d.reason})\n`);
    return 'pending';
  }
  process.stdout.write(`${what}: ${d.action} ${d.from ? `${d.from} → ` : ''}${d.to} (${d.reason}) by the operator\n`);
  d.warnings.forEach((w) => process.stdout.write(`  WARNING: ${w}\n`));
  const image = desired.spec.image;
  if (d.action === 'install')
    process.stdout.write(
      `  a StatefulSet and headless Service ${desired.metadata.name}, ${desired.spec.volumes.length} volume claim(s), ${image}\n`,
    );
  else
    process.stdout.write(
      `  per member from the highest ordinal: pre-upgrade of ${desired.spec.version} in the old pod (spec.upgrade, else ${image}'s labels), template to ${image} (pinned to its digest), pod restarted, post-upgrade, Ready; automatic rollback on failure\n`,
    );
  return 'pending';
}

/** Throws the refusal the operator would answer for this change (the core's rules, then the volume-claim rule). */
function refusal(desired: AppManifest, installed: InstalledRecord, what: string): void {
  const d = decide(desired, { ...desired, spec: installed.spec });
  const volumes = d.action === 'upgrade' ? volumeChange(installed.spec, desired.spec) : undefined;
  if (volumes)
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `${what}: ${volumes}`,
      'Keep the volumes as they are; a new volume needs a new app (or move the data yourself).',
    );
}

/** True when the live object's spec, validated with the document's schema (defaults filled), is the document's. */
function sameMeaning(doc: Doc, live: MoltObject): boolean {
  const schema = doc.kind === 'Release' ? releaseDocument() : doc.kind === 'App' ? appDocument() : releaseAppDocument();
  const parsed = schema.safeParse({
    apiVersion: API_VERSION,
    kind: doc.kind === 'ReleaseApp' ? 'App' : doc.kind,
    metadata: { name: live.metadata.name, labels: live.metadata.labels ?? {} },
    spec: live.spec,
  });
  return (
    parsed.success &&
    sameValue(parsed.data.spec, doc.manifest.spec) &&
    sameValue(parsed.data.metadata.labels, doc.manifest.metadata.labels)
  );
}

/** Dotted paths where two JSON values differ (arrays compared whole). */
export function changedPaths(a: unknown, b: unknown, prefix = 'spec'): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const isObj = (x: unknown): x is Record<string, unknown> => Boolean(x) && typeof x === 'object' && !Array.isArray(x);
  if (!isObj(a) || !isObj(b)) return [prefix];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((k) => changedPaths(a[k], b[k], `${prefix}.${k}`));
}
