/**
 * `molt get -f FILE`, `molt history -f FILE` and `molt rollback -f FILE [SERVICE]`: the apps a
 * file describes — a Compose file's `<project>-<service>`, a molt manifest's Apps — as `apply
 * -f` of that file created them (like `kubectl get -f`). A rollback of the whole file takes
 * back each app's last operation where it can, in reverse `depends_on` order (dependents
 * first, as `apply` started them last), and stops at the first that fails.
 */
import { composeApps, looksLikeCompose } from '../core/compose.ts';
import { InvalidInputError, MoltError, UpgradeRefusedError } from '../core/errors.ts';
import {
  applyOrder,
  describeFileApp,
  lastOperationRollback,
  selectApp,
  type FileApp,
  type LastOperationRollback,
} from '../core/file-targets.ts';
import type { Store } from '../store/store.ts';
import { rollbackCommand } from './commands.ts';
import { documentsOf, isKubeMode, openStore, readInput, say, type GlobalOptions } from './context.ts';
import { observedRecords, observedReleaseApps } from './observe.ts';
import { outputFormat, structured, table, UsageError } from './output.ts';
import { appHeader, appObject, appRow, historyObjects, renderHistory } from './render.ts';
import { releaseAppObject, releaseAppRows, releaseHistory } from './release-commands.ts';
import { reportError } from './report.ts';

/** An app of the file that `apply -f` of it never created (or that was deleted since). */
export class NotAppliedError extends MoltError {
  readonly code = 'AppNotFound';
}

/** The apps `file` describes, in the order `apply -f` of it goes through them. */
export async function fileApps(file: string): Promise<FileApp[]> {
  const text = readInput(file);
  if (looksLikeCompose(text)) {
    return composeApps(text, file).map((a) => ({
      name: a.manifest.metadata.name,
      kind: 'App' as const,
      service: a.service,
      dependsOn: a.manifest.spec.dependsOn ?? [],
    }));
  }
  const docs = await documentsOf(text, file, ['App', 'Release', 'ReleaseApp']);
  const apps = docs.flatMap((d): FileApp[] =>
    d.kind === 'App'
      ? [{ name: d.manifest.metadata.name, kind: 'App', dependsOn: d.manifest.spec.dependsOn ?? [] }]
      : d.kind === 'ReleaseApp'
        ? [{ name: d.manifest.metadata.name, kind: 'ReleaseApp', dependsOn: [] }]
        : [],
  );
  if (apps.length === 0)
    throw new InvalidInputError(
      [{ file, message: 'describes no app, only releases' }],
      '`molt get releases` lists the release catalog; get, history and rollback -f act on the apps of a file.',
    );
  return applyOrder(apps);
}

function notApplied(app: FileApp, file: string): NotAppliedError {
  return new NotAppliedError(
    `${app.service ? `service "${app.service}" of ${file} (app ${app.name})` : `app "${app.name}" of ${file}`} was never applied`,
    `\`molt apply -f ${file}\` creates it (\`molt get apps\` lists what exists).`,
  );
}

function isRecorded(store: Store, app: FileApp): boolean {
  return app.kind === 'App' ? store.getApp(app.name) !== undefined : store.releases.getApp(app.name) !== undefined;
}

/** -f acts on the local engine; on a cluster, objects are named. */
function refuseOnCluster(opts: GlobalOptions, command: string): void {
  if (isKubeMode(opts))
    throw new UsageError(
      `\`molt ${command} -f\` acts on the local engine, not on a cluster`,
      `Name the app instead: \`molt --kubeconfig … ${command} ${command === 'get' ? 'app ' : ''}NAME\`.`,
    );
}

/** `molt get -f FILE` (a resource type and -f exclude each other, as with kubectl). */
export async function getFileCommand(
  resource: string | undefined,
  opts: GlobalOptions & { output: string; filename?: string },
): Promise<number> {
  const file = opts.filename;
  if (file === undefined)
    throw new UsageError(
      'molt get needs a resource type or -f FILE',
      'Use `molt get apps`, `molt get app NAME`, `molt get releases` or `molt get -f FILE`.',
    );
  if (resource !== undefined)
    throw new UsageError(
      `a resource type ("${resource}") and -f exclude each other`,
      `Use \`molt get -f ${file}\` for the apps the file describes, or \`molt get ${resource}\` without -f.`,
    );
  refuseOnCluster(opts, 'get');
  const format = await outputFormat(opts.output);
  const apps = await fileApps(file);
  const store = openStore(opts);
  try {
    const found = apps.filter((a) => isRecorded(store, a));
    const inline = found.filter((a) => a.kind === 'App').map((a) => store.getApp(a.name)!);
    const structuredOut = format === 'json' || format === 'yaml';
    const records = await observedRecords(
      opts,
      store,
      inline,
      apps.length === 1 ? 'one' : structuredOut ? 'list' : 'table',
    );
    const releaseApps = await observedReleaseApps(
      opts,
      store,
      found.filter((a) => a.kind === 'ReleaseApp').map((a) => store.releases.getApp(a.name)!),
    );
    if (found.length > 0) {
      if (structuredOut) {
        const items = [...records.map(appObject), ...releaseApps.map(releaseAppObject)];
        process.stdout.write(
          structured(
            apps.length === 1 && items[0] ? items[0] : { apiVersion: 'molt.dev/v1alpha1', kind: 'List', items },
            format,
          ),
        );
      } else {
        const wide = format === 'wide';
        const pad = (row: string[]) => (wide ? [...row, '', '', ''] : row);
        process.stdout.write(
          table(appHeader(wide), [
            ...records.map((r) => appRow(r, wide)),
            ...releaseAppRows(releaseApps, store.releases).map(pad),
          ]),
        );
      }
    }
    const missing = apps.filter((a) => !found.includes(a));
    for (const app of missing) reportError(notApplied(app, file));
    return missing.length > 0 ? 1 : 0;
  } finally {
    store.close();
  }
}

/** `molt history -f FILE`: every app's history, in apply order. */
export async function historyFileCommand(
  name: string | undefined,
  opts: GlobalOptions & { output: string; filename?: string },
): Promise<number> {
  const file = opts.filename;
  if (file === undefined)
    throw new UsageError(
      'molt history needs an app NAME or -f FILE',
      'Use `molt history NAME` or `molt history -f FILE`.',
    );
  if (name !== undefined)
    throw new UsageError(
      `an app name ("${name}") and -f exclude each other`,
      `Use \`molt history ${name}\`, or \`molt history -f ${file}\` for every app of the file.`,
    );
  refuseOnCluster(opts, 'history');
  const format = await outputFormat(opts.output, ['table', 'json', 'yaml']);
  const apps = await fileApps(file);
  const store = openStore(opts);
  try {
    const found = apps.filter((a) => isRecorded(store, a));
    const entries = (app: FileApp) =>
      store.listOperations(app.name).map((operation) => ({ operation, steps: store.listSteps(operation.id) }));
    if (found.length > 0) {
      if (format === 'json' || format === 'yaml') {
        const history = (app: FileApp) =>
          app.kind === 'App' ? historyObjects(entries(app)) : store.releases.listRollouts(app.name);
        const only = apps.length === 1 ? found[0] : undefined;
        const items = found.map((a) => ({
          name: a.name,
          ...(a.service ? { service: a.service } : {}),
          history: history(a),
        }));
        process.stdout.write(
          structured(only ? history(only) : { apiVersion: 'molt.dev/v1alpha1', kind: 'List', items }, format),
        );
      } else {
        const text = (app: FileApp) =>
          app.kind === 'App' ? renderHistory(entries(app), 'table') : releaseHistory(store.releases, app.name, 'table');
        process.stdout.write(
          apps.length === 1 ? text(found[0]!) : found.map((a) => `app/${describeFileApp(a)}:\n${text(a)}`).join('\n'),
        );
      }
    }
    const missing = apps.filter((a) => !found.includes(a));
    for (const app of missing) reportError(notApplied(app, file));
    return missing.length > 0 ? 1 : 0;
  } finally {
    store.close();
  }
}

/**
 * `molt rollback -f FILE [SERVICE]`: with SERVICE (a Compose service or an app of the file),
 * that app as `molt rollback NAME`; without, every app whose last operation can be rolled back,
 * dependents first.
 */
export async function rollbackFileCommand(
  name: string | undefined,
  opts: GlobalOptions & { timeout: string; wait?: boolean; filename?: string },
): Promise<number> {
  const file = opts.filename;
  if (file === undefined) {
    if (name === undefined)
      throw new UsageError(
        'molt rollback needs an app NAME or -f FILE',
        'Use `molt rollback NAME` or `molt rollback -f FILE [SERVICE]`.',
      );
    return rollbackCommand(name, opts);
  }
  refuseOnCluster(opts, 'rollback');
  const apps = await fileApps(file);
  const wanted = name;
  if (wanted !== undefined) {
    const app = selectApp(apps, wanted);
    if (!app)
      throw new UsageError(
        `${file} has no service or app "${wanted}"`,
        `Name one of: ${apps.map((a) => a.service ?? a.name).join(', ')}.`,
      );
    const store = openStore(opts);
    try {
      if (!isRecorded(store, app)) throw notApplied(app, file);
    } finally {
      store.close();
    }
    return rollbackCommand(app.name, opts);
  }
  const decisions = rollbackDecisions(opts, apps);
  const chosen = decisions.filter((d) => d.verdict?.ok);
  if (chosen.length === 0) {
    if (decisions.every((d) => d.verdict === undefined))
      throw new NotAppliedError(
        `no app of ${file} was ever applied (${apps.map(describeFileApp).join(', ')})`,
        `\`molt apply -f ${file}\` creates them.`,
      );
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `nothing to roll back in ${file}: ${decisions.map((d) => `${describeFileApp(d.app)}: ${reasonOf(d.verdict)}`).join('; ')}`,
      `A rollback of a file takes back each app's last upgrade; \`molt history -f ${file}\` shows them.`,
    );
  }
  for (const d of decisions)
    if (!d.verdict?.ok) say(`${describeFileApp(d.app)}: not rolled back: ${reasonOf(d.verdict)}`);
  for (const [i, d] of chosen.entries()) {
    const code = await rollbackCommand(d.app.name, opts);
    if (code !== 0) {
      const rest = chosen.slice(i + 1).map((c) => describeFileApp(c.app));
      if (rest.length > 0) say(`stopped: ${rest.join(', ')} not rolled back`);
      return code;
    }
  }
  return 0;
}

/** For each app, dependents first: can its last operation be rolled back (undefined: never applied)? */
function rollbackDecisions(
  opts: GlobalOptions,
  apps: FileApp[],
): { app: FileApp; verdict: LastOperationRollback | undefined }[] {
  const store = openStore(opts);
  try {
    return [...apps].reverse().map((app) => {
      if (app.kind === 'ReleaseApp') {
        const record = store.releases.getApp(app.name);
        if (!record) return { app, verdict: undefined };
        const prev =
          record.status.upgradeInfo?.prevRelease ??
          (record.status.lastUpgrade?.outcome === 'Succeeded' ? record.status.lastUpgrade.from : undefined);
        return {
          app,
          verdict: prev
            ? { ok: true, from: record.manifest.spec.release, to: prev }
            : { ok: false, reason: 'it has no previous release to go back to' },
        };
      }
      const record = store.getApp(app.name);
      if (!record) return { app, verdict: undefined };
      return { app, verdict: lastOperationRollback(store.listOperations(app.name), record.status.installedVersion) };
    });
  } finally {
    store.close();
  }
}

function reasonOf(v: LastOperationRollback | undefined): string {
  return v === undefined ? 'never applied' : v.ok ? `${v.from} → ${v.to}` : v.reason;
}
