/** The actions behind each CLI command. Each returns the process exit code. */
import { AppNotFoundError, MoltError } from '../core/errors.ts';
import { describeStep } from '../core/plan.ts';
import { applyApp, deleteApp, planApp, recoverApp, rollbackApp, type ApplyResult } from '../runner/app-service.ts';
import { connectEngine, openStore, readManifests, runDeps, say, type GlobalOptions } from './context.ts';
import { readUpgradeNotification } from '../runner/notification.ts';
import type { AppManifest } from '../core/model.ts';
import { outputFormat, parseDuration, UsageError } from './output.ts';
import { renderApps, renderHistory, renderSnapshots } from './render.ts';
import { SnapshotFiles } from '../store/snapshots.ts';
import { moltHome } from './context.ts';

/** `molt apply -f FILE`. */
export async function applyCommand(opts: GlobalOptions & { filename: string; timeout: string }): Promise<number> {
  const docs = readManifests(opts.filename);
  const deps = await runDeps(opts, parseDuration(opts.timeout));
  let failed = 0;
  try {
    for (const doc of docs) {
      const result = await applyApp(deps, doc.manifest).catch((e: unknown) => {
        failed++;
        reportError(e);
        return undefined;
      });
      if (result) failed += reportApply(doc.manifest.metadata.name, result);
    }
  } finally {
    deps.dispose();
  }
  return failed > 0 ? 1 : 0;
}

function reportApply(name: string, r: ApplyResult): number {
  const d = r.decision;
  if (!r.operation) {
    process.stdout.write(`app/${name} ${d.action === 'none' ? 'unchanged' : 'configured'} (${d.reason})\n`);
    return 0;
  }
  const s = r.operation.state;
  if (s.phase === 'Succeeded') {
    process.stdout.write(`app/${name} ${r.operation.kind === 'install' ? 'created' : 'upgraded'}: ${r.operation.fromVersion ? `${r.operation.fromVersion} → ` : ''}${r.operation.toVersion}\n`);
    return 0;
  }
  const cause = 'cause' in s ? s.cause : undefined;
  say(`error[${cause?.code ?? 'Failed'}]: ${name}: ${cause?.message ?? s.phase}`);
  say(s.phase === 'RolledBack' ? `${name} was rolled back${r.operation.fromVersion ? ` to ${r.operation.fromVersion}` : ' (nothing is installed)'}; its data is as it was before.` : r.operation.fromVersion ? `${r.operation.fromVersion} kept running; molt changed nothing.` : 'nothing was changed.');
  if (cause?.hint) say(`hint: ${cause.hint}`);
  return 1;
}

/** `molt plan -f FILE`: exit 0 nothing to do, 2 changes pending, 1 error. */
export async function planCommand(opts: GlobalOptions & { filename: string }): Promise<number> {
  const docs = readManifests(opts.filename);
  const store = openStore(opts);
  let pending = false;
  try {
    for (const { manifest } of docs) {
      const name = manifest.metadata.name;
      const d = planApp({ store }, manifest);
      if (d.action === 'none' || d.action === 'record') {
        process.stdout.write(`app/${name}: ${d.action === 'none' ? 'no changes' : 'settings recorded, no container change'} (${d.reason})\n`);
        pending ||= d.action === 'record';
        continue;
      }
      pending = true;
      const installed = store.getApp(name)?.manifest;
      process.stdout.write(`app/${name}: ${d.action} ${d.from ? `${d.from} → ` : ''}${d.to} (${d.reason})\n`);
      d.warnings.forEach((w) => process.stdout.write(`  WARNING: ${w}\n`));
      d.steps.forEach((step, i) => process.stdout.write(`  ${i + 1}. ${step.padEnd(17)} ${describeStep(step, manifest, installed)}\n`));
      const notice = d.action === 'upgrade' ? await noticeFor(opts, manifest) : undefined;
      if (notice) process.stdout.write(`  NOTICE from ${manifest.spec.version}:\n${notice.trimEnd().replace(/^/gm, '    ')}\n`);
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
export function getCommand(resource: string, name: string | undefined, opts: GlobalOptions & { output: string }): number {
  const format = outputFormat(opts.output);
  if (!['app', 'apps'].includes(resource)) throw new UsageError(`unknown resource type "${resource}"`, 'Use `molt get apps` or `molt get app NAME`.');
  const store = openStore(opts);
  try {
    const apps = name ? [store.getApp(name)] : store.listApps();
    if (name && !apps[0]) throw new AppNotFoundError(name);
    if (!name && apps.length === 0 && (format === 'table' || format === 'wide')) {
      say('No apps found.');
      return 0;
    }
    process.stdout.write(renderApps(apps.filter((a) => a !== undefined), format, name !== undefined));
    return 0;
  } finally {
    store.close();
  }
}

/** `molt history NAME`. */
export function historyCommand(name: string, opts: GlobalOptions & { output: string }): number {
  const format = outputFormat(opts.output, ['table', 'json', 'yaml']);
  const store = openStore(opts);
  try {
    const ops = store.listOperations(name);
    if (ops.length === 0 && !store.getApp(name)) throw new AppNotFoundError(name);
    process.stdout.write(renderHistory(ops.map((operation) => ({ operation, steps: store.listSteps(operation.id) })), format));
    return 0;
  } finally {
    store.close();
  }
}

/** `molt snapshots NAME`: the volume snapshots kept for the app. */
export function snapshotsCommand(name: string, opts: GlobalOptions & { output: string }): number {
  const format = outputFormat(opts.output, ['table', 'json', 'yaml']);
  const store = openStore(opts);
  try {
    if (!store.getApp(name)) throw new AppNotFoundError(name);
    const ops = new Map(store.listOperations(name).map((o) => [o.id, o]));
    const sets = new SnapshotFiles(moltHome(opts)).list(name);
    process.stdout.write(renderSnapshots(sets.map((s) => ({ ...s, from: ops.get(s.operation)?.fromVersion, to: ops.get(s.operation)?.toVersion })), format));
    return 0;
  } finally {
    store.close();
  }
}

/** `molt rollback NAME`. */
export async function rollbackCommand(name: string, opts: GlobalOptions & { timeout: string }): Promise<number> {
  const deps = await runDeps(opts, parseDuration(opts.timeout));
  try {
    return reportApply(name, await rollbackApp(deps, name));
  } finally {
    deps.dispose();
  }
}

/** `molt recover NAME`: finish or roll back an interrupted operation. */
export async function recoverCommand(name: string, opts: GlobalOptions): Promise<number> {
  const deps = await runDeps(opts, undefined);
  try {
    const op = await recoverApp(deps, name);
    process.stdout.write(op ? `app/${name}: operation ${op.id} ended ${op.state.phase}\n` : `app/${name}: nothing was in flight\n`);
    return op && op.state.phase !== 'Succeeded' ? 1 : 0;
  } finally {
    deps.dispose();
  }
}

/** `molt delete NAME [--volumes]`. */
export async function deleteCommand(name: string, opts: GlobalOptions & { volumes?: boolean }): Promise<number> {
  const deps = await runDeps(opts, undefined);
  try {
    const removed = await deleteApp(deps, name, opts.volumes === true);
    process.stdout.write(`app/${name} deleted${removed.length ? ` (${removed.join(', ')})` : ''}${opts.volumes ? '' : '; volumes kept (use --volumes to remove them)'}\n`);
    return 0;
  } finally {
    deps.dispose();
  }
}

/** Prints an error as `error[code]: message` and its hint. */
export function reportError(e: unknown): void {
  if (e instanceof MoltError) {
    say(`error[${e.code}]: ${e.message}`);
    say(`hint: ${e.hint}`);
  } else {
    say(`error[Internal]: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    say('hint: this is a bug in molt; please report it with the command you ran.');
  }
}
