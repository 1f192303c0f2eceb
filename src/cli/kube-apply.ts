/**
 * `molt apply -f FILE` on a cluster: every document is parsed and validated first with the
 * same parser as locally (file:line:col errors, nothing sent when one is invalid); then
 * Releases, then Apps, each by server-side apply (field manager molt-cli, conflicts not
 * forced); then, like the synchronous local apply, each App is waited for until the operator
 * has it running at the new spec, or refused or rolled it back (exit 1 with its reason).
 */
import type { DocumentOf } from '../core/manifest.ts';
import { isStatus, RESOURCES, type ResourceType } from '../engines/kubernetes/index.ts';
import type { AppStatus } from '../operator/crd/status.ts';
import { reportError } from './report.ts';
import { readManifests, say, type GlobalOptions } from './context.ts';
import { connect, watchCommand, type MoltObject } from './kube-connect.ts';
import { ApplyConflictError, OperationFailedError } from './kube-errors.ts';
import { requireSameNamespace, type KubeTarget } from './kube-target.ts';
import { waitForApp, type AppOutcome } from './kube-wait.ts';
import { parseDuration } from './output.ts';

type Doc = DocumentOf<'App' | 'Release' | 'ReleaseApp'>;

/** Options of apply (and of the waits of rollback). */
export interface KubeWaitFlags {
  timeout: string;
  /** False with --no-wait: return right after the write. */
  wait?: boolean;
}

/** `molt apply -f FILE` against the cluster; returns the exit code. */
export async function kubeApplyCommand(opts: GlobalOptions & KubeWaitFlags & { filename: string }): Promise<number> {
  const docs = await readManifests(opts.filename, ['App', 'Release', 'ReleaseApp'], {
    namespaces: true,
    cluster: true,
  });
  const timeoutSeconds = parseDuration(opts.timeout);
  requireSameNamespace(docs, opts.namespace);
  const cluster = await connect(opts);
  await requireReleases(cluster, docs);
  const ordered = [...docs.filter((d) => d.kind === 'Release'), ...docs.filter((d) => d.kind !== 'Release')];
  const written: { name: string; t: KubeTarget; before?: MoltObject; after: MoltObject }[] = [];
  for (const doc of ordered) {
    const name = doc.manifest.metadata.name;
    // As with kubectl: the document's namespace, else -n, else the context's.
    const t = doc.namespace ? { ...cluster, namespace: doc.namespace.name } : cluster;
    const type = doc.kind === 'Release' ? RESOURCES.releases : RESOURCES.apps;
    const namespace = doc.kind === 'Release' ? undefined : t.namespace;
    const before = await t.api.get<MoltObject>(type, namespace, name);
    const after = await serverSideApply(t, type, namespace, doc);
    if (doc.kind === 'Release')
      process.stdout.write(
        `release/${name} ${!before ? 'created' : before.metadata.generation !== after.metadata.generation ? 'configured' : 'unchanged'}\n`,
      );
    else written.push({ name, t, after, ...(before ? { before } : {}) });
  }
  let failed = 0;
  for (const w of written) {
    if (opts.wait === false) {
      process.stdout.write(
        `app/${w.name} ${!w.before ? 'created' : w.before.metadata.generation !== w.after.metadata.generation ? 'configured' : 'unchanged'} (not waiting: --no-wait)\n`,
      );
      continue;
    }
    const code = await waitAndReport(
      w.t,
      opts,
      w.name,
      w.after.metadata.generation ?? 0,
      timeoutSeconds,
      w.before,
    ).catch((e: unknown) => {
      reportError(e);
      return 1;
    });
    failed += code;
  }
  return failed > 0 ? 1 : 0;
}

/** An App that names a release the file does not bring and the cluster does not have fails before anything is sent. */
async function requireReleases(t: KubeTarget, docs: Doc[]): Promise<void> {
  const inFile = new Set(docs.filter((d) => d.kind === 'Release').map((d) => d.manifest.metadata.name));
  for (const d of docs) {
    if (d.kind !== 'ReleaseApp' || inFile.has(d.manifest.spec.release)) continue;
    if (!(await t.api.get(RESOURCES.releases, undefined, d.manifest.spec.release))) {
      throw new OperationFailedError(
        'ReleaseNotFound',
        `${d.file}:${d.line}: app ${d.manifest.metadata.name}: release "${d.manifest.spec.release}" is not on the cluster (nothing was applied)`,
        'Apply the Release first (it may be in the same file), or correct spec.release; `molt get releases` lists them.',
      );
    }
  }
}

/** Server-side apply of one document (never forced); `dryRun`: the server validates and answers, nothing is stored. */
export async function serverSideApply(
  t: KubeTarget,
  type: ResourceType,
  namespace: string | undefined,
  doc: Doc,
  dryRun = false,
): Promise<MoltObject> {
  const { metadata, spec } = doc.manifest;
  const body: MoltObject = {
    metadata: { name: metadata.name, labels: metadata.labels, ...(namespace ? { namespace } : {}) },
    spec: spec as Record<string, unknown>,
  };
  try {
    return await t.api.apply<MoltObject>(type, namespace, body, false, dryRun);
  } catch (e) {
    if (isStatus(e, 409))
      throw new ApplyConflictError(`${doc.file}:${doc.line}: ${type.kind.toLowerCase()}/${metadata.name}`, e.message);
    throw e;
  }
}

/** Waits for generation `generation` of the App and prints the outcome like local apply; returns the exit code. */
export async function waitAndReport(
  t: KubeTarget,
  opts: GlobalOptions,
  name: string,
  generation: number,
  timeoutSeconds: number,
  before?: MoltObject,
  verb?: string,
): Promise<number> {
  const { app, outcome } = await waitForApp({
    api: t.api,
    namespace: t.namespace,
    name,
    generation,
    timeoutSeconds,
    watch: watchCommand(opts, t.namespace, name),
    progress: (line) => say(`app/${name}: ${line}`),
  });
  return reportOutcome(name, before, app, outcome, verb);
}

function versionOf(app: MoltObject | undefined): string | undefined {
  const s = app?.status as AppStatus | undefined;
  return typeof app?.spec?.['release'] === 'string' ? s?.release : s?.installedVersion;
}

/** Prints `app/x created|upgraded: a → b|unchanged` or the failure; returns the exit code. */
export function reportOutcome(
  name: string,
  before: MoltObject | undefined,
  app: MoltObject,
  outcome: Exclude<AppOutcome, { kind: 'pending' }>,
  verb?: string,
): number {
  const from = versionOf(before);
  const to = versionOf(app);
  if (outcome.kind === 'done') {
    if (!before || !from) process.stdout.write(`app/${name} created: ${to}\n`);
    else if (from !== to) process.stdout.write(`app/${name} ${verb ?? 'upgraded'}: ${from} → ${to}\n`);
    else if (verb) process.stdout.write(`app/${name} ${verb} to ${to}\n`);
    else
      process.stdout.write(
        `app/${name} ${before.metadata.generation === app.metadata.generation ? 'unchanged' : 'configured'}\n`,
      );
    return 0;
  }
  say(`error[${outcome.reason}]: ${name}: ${outcome.message}`);
  const ended =
    outcome.ended ?? (outcome.reason === 'RolledBack' || outcome.reason === 'Aborted' ? outcome.reason : '');
  if (ended === 'RolledBack')
    say(to ? `${name} was rolled back to ${to}; its data is as it was before.` : 'nothing is installed.');
  else if (ended === 'Aborted') say(to ? `${to} kept running; molt changed nothing.` : 'nothing is installed.');
  else if (to) say(`${to} kept running.`);
  say(`hint: ${hintFor(ended || outcome.reason, name)}`);
  return 1;
}

function hintFor(reason: string, name: string): string {
  if (reason === 'DowngradeRefused')
    return `Downgrades are refused. \`molt rollback ${name}\` goes back to the previously installed version; or set spec.upgradeConfig.forceUpgrade: true if you are sure the old version reads the data.`;
  if (reason === 'RolledBack' || reason === 'Aborted')
    return `Fix what failed (\`molt history ${name}\`, kubectl describe apps.molt.dev ${name}) and apply a changed spec; the same spec is not tried again.`;
  if (reason === 'NamespaceSwitchRefused')
    return 'Set spec.upgradeConfig.allowNamespaceSwitch: true if the package really moved.';
  return `See \`molt history ${name}\` and the App's events (kubectl describe apps.molt.dev ${name}); correct the spec and apply again.`;
}
