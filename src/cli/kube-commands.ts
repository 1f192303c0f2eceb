/**
 * `get`, `history`, `rollback` and `delete` on a cluster, through molt's custom resources:
 * what local commands read from the store is read from the App's status (status.history is
 * the operator's record), and what they do to containers is asked of the operator by writing
 * the App — then waited for like locally.
 */
import { isStatus, RESOURCES, type KubeObject } from '../engines/kubernetes/index.ts';
import { ANNOTATIONS, LABELS } from '../operator/app/names.ts';
import { COPY_COMPONENT } from '../operator/app/volume-copy.ts';
import type { AppStatus } from '../operator/crd/status.ts';
import { say, type GlobalOptions } from './context.ts';
import { waitAndReport, type KubeWaitFlags } from './kube-apply.ts';
import { connect, printable, type MoltObject } from './kube-connect.ts';
import { KubeAppNotFoundError, RollbackRefusedError } from './kube-errors.ts';
import { renderKubeApps, renderKubeHistory, renderKubeReleases, rollbackTarget } from './kube-render.ts';
import type { KubeTarget } from './kube-target.ts';
import { outputFormat, parseDuration, structured, UsageError } from './output.ts';

async function requireApp(t: KubeTarget, name: string): Promise<MoltObject> {
  const app = await t.api.get<MoltObject>(RESOURCES.apps, t.namespace, name);
  if (!app) throw new KubeAppNotFoundError(name, t.namespace);
  return app;
}

function list(items: MoltObject[]): unknown {
  return { apiVersion: 'v1', kind: 'List', items: items.map(printable) };
}

/** `molt get apps|app NAME|releases` on a cluster. */
export async function kubeGetCommand(
  resource: string,
  name: string | undefined,
  opts: GlobalOptions & { output: string },
): Promise<number> {
  const format = await outputFormat(opts.output);
  const isRelease = ['release', 'releases'].includes(resource);
  if (!isRelease && !['app', 'apps'].includes(resource))
    throw new UsageError(
      `unknown resource type "${resource}"`,
      'Use `molt get apps`, `molt get app NAME` or `molt get releases`.',
    );
  const t = await connect(opts);
  if (isRelease) {
    const releases = name
      ? [await t.api.get<MoltObject>(RESOURCES.releases, undefined, name)].filter((r) => r !== undefined)
      : (await t.api.list<MoltObject>(RESOURCES.releases, undefined)).items;
    if (name && releases.length === 0)
      throw new UsageError(`release "${name}" not found`, 'List the releases with `molt get releases`.');
    if (format === 'json' || format === 'yaml')
      process.stdout.write(structured(name ? printable(releases[0] as MoltObject) : list(releases), format));
    else process.stdout.write(renderKubeReleases(releases, await appsForReleases(t)));
    return 0;
  }
  const apps = name ? [await requireApp(t, name)] : (await t.api.list<MoltObject>(RESOURCES.apps, t.namespace)).items;
  if (format === 'json' || format === 'yaml') {
    process.stdout.write(structured(name ? printable(apps[0] as MoltObject) : list(apps), format));
    return 0;
  }
  if (apps.length === 0) {
    say(`No apps found in namespace ${t.namespace}.`);
    return 0;
  }
  process.stdout.write(renderKubeApps(apps, format === 'wide'));
  return 0;
}

/** Apps of every namespace when allowed, else of the target namespace (for `get releases`' USED BY). */
async function appsForReleases(t: KubeTarget): Promise<MoltObject[]> {
  try {
    return (await t.api.list<MoltObject>(RESOURCES.apps, undefined)).items;
  } catch (e) {
    if (!isStatus(e, 403)) throw e;
    return (await t.api.list<MoltObject>(RESOURCES.apps, t.namespace)).items;
  }
}

/** `molt history NAME` on a cluster: the operator's status.history. */
export async function kubeHistoryCommand(name: string, opts: GlobalOptions & { output: string }): Promise<number> {
  const format = await outputFormat(opts.output, ['table', 'json', 'yaml']);
  const t = await connect(opts);
  const history = ((await requireApp(t, name)).status as AppStatus | undefined)?.history ?? [];
  process.stdout.write(
    format === 'json' || format === 'yaml' ? structured(history, format) : renderKubeHistory(history),
  );
  return 0;
}

/**
 * `molt rollback NAME` on a cluster: the App's spec goes back to the previous version (or
 * release) with the molt.dev/rollback-to annotation that permits exactly that downgrade;
 * during an upgrade the operator rolls it back at once. Then waits like apply.
 */
export async function kubeRollbackCommand(name: string, opts: GlobalOptions & KubeWaitFlags): Promise<number> {
  const timeoutSeconds = parseDuration(opts.timeout);
  const t = await connect(opts);
  const app = await requireApp(t, name);
  const s = (app.status ?? {}) as AppStatus;
  const isRelease = typeof app.spec?.['release'] === 'string';
  const requested = app.metadata.annotations?.[ANNOTATIONS.rollbackTo];
  if (s.upgrade?.state === 'RollingBack' || requested) {
    throw new RollbackRefusedError(
      'RollbackInProgress',
      `app "${name}" is already rolling back${requested ? ` to ${requested}` : s.upgrade ? ` to ${s.upgrade.from}` : ''}`,
      `Wait for it: \`molt history ${name}\` shows when it ended.`,
    );
  }
  const target =
    s.upgrade?.state === 'Upgrading' && s.upgrade.from
      ? { to: s.upgrade.from, ...(!isRelease && s.image ? { image: s.image } : {}) }
      : rollbackTarget(s.history, isRelease ? s.release : s.installedVersion);
  if (!target) {
    throw new RollbackRefusedError(
      'NothingToRollBack',
      `app "${name}" has no previous ${isRelease ? 'release' : 'version'} to go back to (${s.installedVersion ? `it runs ${isRelease ? s.release : s.installedVersion}, as installed` : 'nothing is installed'})`,
      `\`molt history ${name}\` lists what happened to it.`,
    );
  }
  // An inline app goes back to its whole previous spec (env, volumes, probes… as they were),
  // as helm rollback would; without a recorded spec (an upgrade in flight), version and image.
  const spec = isRelease
    ? { ...app.spec, release: target.to }
    : 'spec' in target && target.spec
      ? applyable(target.spec)
      : { ...app.spec, version: target.to, ...(target.image ? { image: target.image } : {}) };
  const body: MoltObject = {
    metadata: {
      name,
      namespace: t.namespace,
      labels: app.metadata.labels ?? {},
      annotations: { [ANNOTATIONS.rollbackTo]: target.to },
    },
    spec,
  };
  // Forced: the rollback takes the version over from whoever applied it (kubectl, molt, GitOps).
  const after = await t.api.apply<MoltObject>(RESOURCES.apps, t.namespace, body, true);
  say(
    `app/${name}: rolling back to ${target.to}${s.upgrade?.state === 'Upgrading' ? ` (the upgrade to ${s.upgrade.to} in flight is rolled back)` : ''}`,
  );
  if (opts.wait === false) {
    process.stdout.write(`app/${name} rollback to ${target.to} requested (not waiting: --no-wait)\n`);
    return 0;
  }
  return waitAndReport(t, opts, name, after.metadata.generation ?? 0, timeoutSeconds, app, 'rolled back');
}

/** `molt delete NAME [--volumes]` on a cluster: the App goes (the operator's finalizer cleans up); its claims stay unless --volumes. */
export async function kubeDeleteCommand(name: string, opts: GlobalOptions & { volumes?: boolean }): Promise<number> {
  const t = await connect(opts);
  await requireApp(t, name);
  await t.api.delete(RESOURCES.apps, t.namespace, name, { propagationPolicy: 'Background' });
  const deadline = Date.now() + 120_000;
  while (await t.api.get(RESOURCES.apps, t.namespace, name)) {
    if (Date.now() > deadline) {
      say(
        `app/${name} is being deleted; the operator has not released it within 120s (is it running?)${opts.volumes ? ': its volume claims were NOT removed' : ''}`,
      );
      return 1;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!opts.volumes) {
    process.stdout.write(`app/${name} deleted; volumes kept (use --volumes to remove them)\n`);
    return 0;
  }
  const claims = (await t.api.list<KubeObject>(RESOURCES.pvcs, t.namespace, { labelSelector: `${LABELS.app}=${name}` }))
    .items;
  for (const c of claims) await t.api.delete(RESOURCES.pvcs, t.namespace, c.metadata.name ?? '');
  process.stdout.write(`app/${name} deleted (${removedClaimsSummary(claims)})\n`);
  return 0;
}

/**
 * What `delete --volumes` removed: the data claims by name, the volume copies kept for
 * rollbacks (`molt snapshots`) as a count — they are many after a few upgrades.
 */
export function removedClaimsSummary(claims: KubeObject[]): string {
  const isCopy = (c: KubeObject) => c.metadata.labels?.[LABELS.component] === COPY_COMPONENT.claim;
  const data = claims.filter((c) => !isCopy(c)).map((c) => `pvc/${c.metadata.name}`);
  const copies = claims.length - data.length;
  const parts = [
    data.length ? `${data.join(', ')} removed` : 'no volume claims removed',
    ...(copies ? [`${copies} volume ${copies === 1 ? 'copy' : 'copies'} removed`] : []),
  ];
  return parts.join('; ');
}

/**
 * A recorded spec as server-side apply needs it: without null and empty-map members. Applying
 * `env: {}` over keys this manager owned leaves `env: null`, which the schema refuses; left
 * out, the field's keys go and the CRD's default ({}) comes back — the same spec.
 */
function applyable(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null) continue;
    if (typeof v !== 'object' || Array.isArray(v)) {
      out[k] = v;
      continue;
    }
    const inner = applyable(v as Record<string, unknown>);
    if (Object.keys(inner).length > 0) out[k] = inner;
  }
  return out;
}
