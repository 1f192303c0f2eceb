/** The actions behind each CLI command. Each returns the process exit code. */
import { AppNotFoundError } from '../core/errors.ts';
import type { ApplyResult } from '../runner/app-service.ts';
import { connectEngine, openStore, readManifests, runDeps, say, type GlobalOptions } from './context.ts';
import type { AppManifest } from '../core/model.ts';
import { outputFormat, parseDuration, structured, table, UsageError } from './output.ts';
import { appHeader, appObject, appRow, renderApps, renderHistory, renderSnapshots } from './render.ts';
import { SnapshotFiles } from '../store/snapshots.ts';
import { moltHome } from './context.ts';
import type { DocumentOf } from '../core/manifest.ts';
import { MEMBER_LABEL } from '../core/member-label.ts';
import { isKubeMode } from './context.ts';
import { lazyModule } from './lazy.ts';

// The runner (engine, steps, schemas) loads with the first command that acts: reading
// commands (get, history, snapshots) start without it.
const { applyApp, deleteApp, planApp, recoverApp, rollbackApp } = lazyModule(() => import('../runner/app-service.ts'));
const { recoverReleaseApp } = lazyModule(() => import('../runner/release-service.ts'));
const { readUpgradeNotification } = lazyModule(() => import('../runner/notification.ts'));
const releaseCommands = () => import('./release-commands.ts');
const {
  applyReleaseAppDocument,
  applyReleaseDocument,
  deleteReleaseAppCommand,
  getReleasesCommand,
  pauseCommand,
  planReleaseDocument,
  rollbackReleaseAppCommand,
} = lazyModule(releaseCommands);
const { checkHostInputs, checkReleaseHostInputs } = lazyModule(() => import('../runner/host-checks.ts'));
const { inputsChanged } = lazyModule(() => import('../runner/host-inputs.ts'));
import { observedRecords, observedReleaseApps, planConvergence } from './observe.ts';
import { FORWARD_STEPS } from '../core/upgrade-machine.ts';
import { reportError } from './report.ts';

export { reportError };

// The cluster side, loaded only in cluster mode (see isKubeMode).
const kubeCommands = () => import('./kube-commands.ts');

/** `molt apply -f FILE`. */
export async function applyCommand(
  opts: GlobalOptions & { filename: string; timeout: string; wait?: boolean },
): Promise<number> {
  if (isKubeMode(opts)) return (await import('./kube-apply.ts')).kubeApplyCommand(opts);
  const docs = await readManifests(opts.filename, ['App', 'Release', 'ReleaseApp']);
  const deps = await runDeps(opts, parseDuration(opts.timeout));
  let failed = 0;
  try {
    // Host files, paths and ports of every app first: one bad one and nothing is touched.
    for (const doc of docs) {
      if (doc.kind === 'App') await checkHostInputs(doc, deps.store.getApp(doc.manifest.metadata.name)?.manifest);
      if (doc.kind === 'Release') await checkReleaseHostInputs(doc);
    }
    // Releases first: an app in the same file may run one of them.
    const ordered = [...docs.filter((d) => d.kind === 'Release'), ...docs.filter((d) => d.kind !== 'Release')];
    for (const doc of ordered) {
      const code = await applyDocument(deps, doc).catch((e: unknown) => {
        reportError(e);
        return 1;
      });
      failed += code === 0 ? 0 : 1;
    }
  } finally {
    deps.dispose();
  }
  return failed > 0 ? 1 : 0;
}

async function applyDocument(
  deps: Awaited<ReturnType<typeof runDeps>>,
  doc: DocumentOf<'App' | 'Release' | 'ReleaseApp'>,
): Promise<number> {
  switch (doc.kind) {
    case 'Release':
      return applyReleaseDocument(deps.store, doc.manifest);
    case 'ReleaseApp':
      return applyReleaseAppDocument(deps, doc.manifest);
    case 'App':
      return reportApply(doc.manifest.metadata.name, await applyApp(deps, doc.manifest));
  }
}

function reportApply(name: string, r: ApplyResult): number {
  const d = r.decision;
  if (!r.operation) {
    const c = r.converged;
    const started =
      c && c.action !== 'none'
        ? `; ${c.action === 'start' ? 'started' : 'recreated'} its container (${c.reason}): ${c.detail}`
        : c?.reason.startsWith('stopped on purpose')
          ? `; ${c.reason}`
          : '';
    process.stdout.write(`app/${name} ${d.action === 'none' ? 'unchanged' : 'configured'} (${d.reason}${started})\n`);
    return 0;
  }
  const s = r.operation.state;
  if (s.phase === 'Succeeded') {
    const done =
      r.operation.plan.trigger !== 'apply' ? 'rolled back' : r.operation.kind === 'install' ? 'created' : 'upgraded';
    process.stdout.write(
      `app/${name} ${done}: ${r.operation.fromVersion ? `${r.operation.fromVersion} → ` : ''}${r.operation.toVersion}\n`,
    );
    return 0;
  }
  const cause = 'cause' in s ? s.cause : undefined;
  say(`error[${cause?.code ?? 'Failed'}]: ${name}: ${cause?.message ?? s.phase}`);
  say(
    s.phase === 'RolledBack'
      ? `${name} was rolled back${r.operation.fromVersion ? ` to ${r.operation.fromVersion}` : ' (nothing is installed)'}; its data is as it was before.`
      : r.operation.fromVersion
        ? `${r.operation.fromVersion} kept running; molt changed nothing.`
        : 'nothing was installed.',
  );
  if (!r.operation.fromVersion) say(failedInstallNote(name));
  if (cause?.hint) say(`hint: ${cause.hint}`);
  return 1;
}

/** What a failed install leaves recorded, and how to clear it. */
export function failedInstallNote(name: string): string {
  return `app/${name} stays recorded as Failed with this error (\`molt get apps\`, \`molt history ${name}\`): apply again once fixed, or \`molt delete ${name}\` to forget it.`;
}

/** `molt plan -f FILE`: exit 0 nothing to do, 2 changes pending, 1 error. */
export async function planCommand(opts: GlobalOptions & { filename: string }): Promise<number> {
  if (isKubeMode(opts)) return (await import('./kube-plan.ts')).kubePlanCommand(opts);
  const docs = await readManifests(opts.filename, ['App', 'Release', 'ReleaseApp']);
  // Planning code (and semver) loads with `plan`, not with every command of this module.
  const { describeStep } = await import('../core/plan.ts');
  const store = openStore(opts);
  let pending = false;
  try {
    for (const doc of docs) {
      if (doc.kind !== 'App') {
        pending = (await planReleaseDocument(store, doc)) || pending;
        continue;
      }
      const manifest = doc.manifest;
      const name = manifest.metadata.name;
      await checkHostInputs(doc, store.getApp(name)?.manifest);
      const record = store.getApp(name);
      // New contents of env or secret files under the same paths: only the running container's digest label tells.
      const changedInputs =
        record?.manifest && (manifest.spec.envFrom?.length || manifest.spec.secrets?.length)
          ? await inputsChanged(await connectEngine(opts), moltHome(opts), manifest, record.status.containerId)
          : false;
      const d = await planApp({ store }, manifest, changedInputs);
      const converge =
        d.action === 'none' || d.action === 'record' ? await planConvergence(opts, store, name) : undefined;
      if (converge) {
        pending = true;
        process.stdout.write(
          `app/${name}: ${converge.action} (${converge.reason}; apply ${converge.action === 'start' ? 'starts it' : 'recreates it on the same volumes and IP'})\n`,
        );
        if (converge.action === 'recreate')
          FORWARD_STEPS.install.forEach((step, i) =>
            process.stdout.write(`  ${i + 1}. ${step.padEnd(17)} ${describeStep(step, manifest, undefined)}\n`),
          );
        continue;
      }
      if (d.action === 'none' || d.action === 'record') {
        process.stdout.write(
          `app/${name}: ${d.action === 'none' ? 'no changes' : 'settings recorded, no container change'} (${d.reason})\n`,
        );
        pending ||= d.action === 'record';
        continue;
      }
      pending = true;
      const installed = store.getApp(name)?.manifest;
      process.stdout.write(`app/${name}: ${d.action} ${d.from ? `${d.from} → ` : ''}${d.to} (${d.reason})\n`);
      d.warnings.forEach((w) => process.stdout.write(`  WARNING: ${w}\n`));
      d.diffs?.forEach((line) => process.stdout.write(`  ~ ${line}\n`));
      d.steps.forEach((step, i) =>
        process.stdout.write(`  ${i + 1}. ${step.padEnd(17)} ${describeStep(step, manifest, installed)}\n`),
      );
      const notice = d.action === 'upgrade' ? await noticeFor(opts, manifest) : undefined;
      if (notice)
        process.stdout.write(`  NOTICE from ${manifest.spec.version}:\n${notice.trimEnd().replace(/^/gm, '    ')}\n`);
    }
  } finally {
    store.close();
  }
  return pending ? 2 : 0;
}

/** The new version's upgrade notification, when an engine answers and has the image. */
async function noticeFor(opts: GlobalOptions, manifest: AppManifest): Promise<string | undefined> {
  try {
    return await readUpgradeNotification(await connectEngine(opts), manifest);
  } catch {
    return undefined;
  }
}

/** `molt get apps` / `molt get app NAME`. */
export async function getCommand(
  resource: string,
  name: string | undefined,
  opts: GlobalOptions & { output: string },
): Promise<number> {
  if (isKubeMode(opts)) return kubeCommands().then((k) => k.kubeGetCommand(resource, name, opts));
  if (['release', 'releases'].includes(resource)) return getReleasesCommand(opts);
  const format = await outputFormat(opts.output);
  if (!['app', 'apps'].includes(resource))
    throw new UsageError(
      `unknown resource type "${resource}"`,
      'Use `molt get apps`, `molt get app NAME` or `molt get releases`.',
    );
  return getApps(name, format, opts);
}

async function getApps(
  name: string | undefined,
  format: Awaited<ReturnType<typeof outputFormat>>,
  opts: GlobalOptions,
): Promise<number> {
  const store = openStore(opts);
  try {
    const rs = store.releases;
    const recordedRelease = name ? rs.getApp(name) : undefined;
    if (recordedRelease) {
      const [releaseApp] = (await observedReleaseApps(opts, store, [recordedRelease])) as [typeof recordedRelease];
      const { releaseAppObject, releaseAppRows } = await releaseCommands();
      process.stdout.write(
        format === 'json' || format === 'yaml'
          ? structured(releaseAppObject(releaseApp), format)
          : table(['NAME', 'VERSION', 'PHASE', 'IP', 'AGE'], releaseAppRows([releaseApp], rs)),
      );
      return 0;
    }
    // Members of release apps are shown through their app, not as apps of their own.
    const recorded = (
      name ? [store.getApp(name)] : store.listApps().filter((a) => !a.manifest?.metadata.labels[MEMBER_LABEL.owner])
    ).filter((a) => a !== undefined);
    // Honest status: what the engine shows now, not only what the journal remembers.
    const apps = await observedRecords(
      opts,
      store,
      recorded,
      name !== undefined ? 'one' : format === 'json' || format === 'yaml' ? 'list' : 'table',
    );
    const releaseApps = name ? [] : await observedReleaseApps(opts, store, rs.listApps());
    if (name && apps.length === 0) throw new AppNotFoundError(name);
    if (!name && apps.length + releaseApps.length === 0 && (format === 'table' || format === 'wide')) {
      say('No apps found.');
      return 0;
    }
    const { releaseAppObject, releaseAppRows } =
      releaseApps.length > 0 ? await releaseCommands() : { releaseAppObject: undefined, releaseAppRows: () => [] };
    if (releaseAppObject && (format === 'json' || format === 'yaml')) {
      process.stdout.write(
        structured(
          {
            apiVersion: 'molt.dev/v1alpha1',
            kind: 'List',
            items: [...apps.map(appObject), ...releaseApps.map(releaseAppObject)],
          },
          format,
        ),
      );
    } else if (releaseAppObject) {
      const wide = format === 'wide';
      const pad = (row: string[]) => (wide ? [...row, '', '', ''] : row);
      process.stdout.write(
        table(appHeader(wide), [...apps.map((a) => appRow(a, wide)), ...releaseAppRows(releaseApps, rs).map(pad)]),
      );
    } else {
      process.stdout.write(renderApps(apps, format, name !== undefined));
    }
    return 0;
  } finally {
    store.close();
  }
}

/** `molt history NAME`. */
export async function historyCommand(name: string, opts: GlobalOptions & { output: string }): Promise<number> {
  if (isKubeMode(opts)) return kubeCommands().then((k) => k.kubeHistoryCommand(name, opts));
  const format = await outputFormat(opts.output, ['table', 'json', 'yaml']);
  const store = openStore(opts);
  try {
    const rs = store.releases;
    if (rs.getApp(name)) {
      process.stdout.write((await releaseCommands()).releaseHistory(rs, name, format));
      return 0;
    }
    const ops = store.listOperations(name);
    if (ops.length === 0 && !store.getApp(name)) throw new AppNotFoundError(name);
    process.stdout.write(
      renderHistory(
        ops.map((operation) => ({ operation, steps: store.listSteps(operation.id) })),
        format,
      ),
    );
    return 0;
  } finally {
    store.close();
  }
}

/** `molt snapshots NAME`: the volume snapshots kept for the app. */
export async function snapshotsCommand(name: string, opts: GlobalOptions & { output: string }): Promise<number> {
  if (isKubeMode(opts)) return (await import('./kube-snapshots.ts')).kubeSnapshotsCommand(name, opts);
  const format = await outputFormat(opts.output, ['table', 'json', 'yaml']);
  const store = openStore(opts);
  try {
    if (!store.getApp(name)) throw new AppNotFoundError(name);
    const ops = new Map(store.listOperations(name).map((o) => [o.id, o]));
    const sets = new SnapshotFiles(moltHome(opts)).list(name);
    process.stdout.write(
      renderSnapshots(
        sets.map((s) => ({ ...s, from: ops.get(s.operation)?.fromVersion, to: ops.get(s.operation)?.toVersion })),
        format,
      ),
    );
    return 0;
  } finally {
    store.close();
  }
}

/** `molt rollback NAME`. */
export async function rollbackCommand(
  name: string,
  opts: GlobalOptions & { timeout: string; wait?: boolean },
): Promise<number> {
  if (isKubeMode(opts)) return (await kubeCommands()).kubeRollbackCommand(name, opts);
  const deps = await runDeps(opts, parseDuration(opts.timeout));
  try {
    if (deps.store.releases.getApp(name)) return await rollbackReleaseAppCommand(deps, name);
    return reportApply(name, await rollbackApp(deps, name));
  } finally {
    deps.dispose();
  }
}

/** `molt recover NAME`: finish or roll back an interrupted operation. */
export async function recoverCommand(name: string, opts: GlobalOptions): Promise<number> {
  const deps = await runDeps(opts, undefined);
  try {
    if (deps.store.releases.getApp(name)) return await recoverReleaseAppCommand(deps, name);
    const op = await recoverApp(deps, name);
    process.stdout.write(
      op ? `app/${name}: operation ${op.id} ended ${op.state.phase}\n` : `app/${name}: nothing was in flight\n`,
    );
    return op && op.state.phase !== 'Succeeded' ? 1 : 0;
  } finally {
    deps.dispose();
  }
}

async function recoverReleaseAppCommand(deps: Awaited<ReturnType<typeof runDeps>>, name: string): Promise<number> {
  const r = await recoverReleaseApp(deps, name);
  if (!r) {
    process.stdout.write(`app/${name}: nothing was in flight\n`);
    return 0;
  }
  process.stdout.write(
    `app/${name}: the interrupted ${r.continued} ended ${r.outcome}${r.error ? ` (${r.error.code}: ${r.error.message})` : ''}\n`,
  );
  const done = r.continued === 'rollback' ? 'RolledBack' : 'Succeeded';
  return r.outcome === done ? 0 : 1;
}

/** `molt delete NAME [--volumes]`. */
export async function deleteCommand(name: string, opts: GlobalOptions & { volumes?: boolean }): Promise<number> {
  if (isKubeMode(opts)) return (await kubeCommands()).kubeDeleteCommand(name, opts);
  const deps = await runDeps(opts, undefined);
  try {
    if (deps.store.releases.getApp(name)) return await deleteReleaseAppCommand(deps, name, opts.volumes === true);
    const removed = await deleteApp(deps, name, opts.volumes === true);
    process.stdout.write(
      `app/${name} deleted${removed.length ? ` (${removed.join(', ')})` : ''}${opts.volumes ? '' : '; volumes kept (use --volumes to remove them)'}\n`,
    );
    return 0;
  } finally {
    deps.dispose();
  }
}

/** `molt pause NAME` / `molt resume NAME` for a release app. */
export async function pauseResumeCommand(
  name: string,
  paused: boolean,
  opts: GlobalOptions & { timeout?: string },
): Promise<number> {
  if (isKubeMode(opts)) return (await import('./kube-pause.ts')).kubePauseCommand(name, paused, opts);
  if (paused) return pauseCommand(name, true, opts);
  const deps = await runDeps(opts, parseDuration(opts.timeout ?? '30m'));
  try {
    return await pauseCommand(name, false, opts, deps);
  } finally {
    deps.dispose();
  }
}
