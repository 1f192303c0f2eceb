/**
 * `molt task …`: apply UpgradeTasks and Inventories, run a task as a worker (in the
 * foreground, or detached so it outlives the terminal), follow it with get/list/describe,
 * cancel it, delete it. Data goes to stdout, progress to stderr. Exit codes: 0 the task
 * succeeded (or the command did its job), 1 error or the task ended in Error, 130 the worker
 * was stopped (the task stays Started; running it again continues). With --kubeconfig,
 * --context or --in-cluster the same verbs act on UpgradeTask resources (kube-task-commands.ts).
 * The verbs are registered in task-cli.ts, which loads this module only when one runs.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InvalidInputError } from '../core/errors.ts';
import { parseManifests } from '../core/manifest.ts';
import { sameValue } from '../core/plan.ts';
import type { EndpointSpec, InventoryManifest } from '../core/task.ts';
import {
  InventoryInUseError,
  InventoryNotFoundError,
  TaskBusyError,
  TaskImmutableError,
  TaskNotFoundError,
} from '../core/task-errors.ts';
import { openEndpoints } from '../runner/task-endpoints.ts';
import { runTask, type WorkerResult } from '../runner/task-worker.ts';
import { Store } from '../store/store.ts';
import { TaskStore, workerAlive } from '../store/task-store.ts';
import { connectEngine, moltHome, say, type GlobalOptions } from './context.ts';
import { outputFormat, UsageError } from './output.ts';
import { cancelWorker, spawnDetached } from './task-detach.ts';
import { renderDescribe, renderTargets, renderTasks } from './task-render.ts';

export interface RunOptions {
  detach?: boolean;
  output: string;
  verbose?: boolean;
  logFile?: string;
  inJob?: boolean;
}

/** Runs `fn` with the task store of the molt home, closing it after. */
function withTasks<T>(opts: GlobalOptions, fn: (tasks: TaskStore, store: Store) => T): T {
  const store = Store.open(moltHome(opts));
  try {
    return fn(store.tasks, store);
  } finally {
    store.close();
  }
}

/** `molt task apply -f FILE`. */
export function applyTasks(opts: GlobalOptions, file: string): number {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidInputError(
      [
        {
          file,
          message:
            (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot read: ${(e as Error).message}`,
        },
      ],
      'Pass the path of a task file with -f.',
    );
  }
  const docs = parseManifests(text, file, ['UpgradeTask', 'Inventory']);
  const base = file === '-' ? process.cwd() : dirname(resolve(file));
  return withTasks(opts, (tasks) => {
    const source = file === '-' ? undefined : resolve(file);
    for (const d of docs) {
      if (d.kind !== 'Inventory') continue;
      const manifest = resolvePaths(d.manifest, base);
      const before = tasks.getInventory(manifest.metadata.name);
      if (before) checkInventoryChange(tasks, before.manifest, manifest);
      tasks.saveInventory(manifest, source);
      process.stdout.write(
        `inventory/${manifest.metadata.name} ${!before ? 'created' : sameValue(before.manifest, manifest) ? 'unchanged' : 'configured'}\n`,
      );
    }
    for (const d of docs) {
      if (d.kind !== 'UpgradeTask') continue;
      const { manifest } = d;
      const name = manifest.metadata.name;
      if (manifest.spec.inventory !== undefined && !tasks.getInventory(manifest.spec.inventory))
        throw new InventoryNotFoundError(manifest.spec.inventory);
      const before = tasks.getTask(name);
      if (before && sameValue(before.manifest, manifest)) {
        process.stdout.write(`upgradetask/${name} unchanged\n`);
        continue;
      }
      if (before && before.state.phase !== 'Pending') throw new TaskImmutableError(name, before.state.phase);
      tasks.saveTask(manifest, source);
      process.stdout.write(`upgradetask/${name} ${before ? 'configured' : 'created'}\n`);
    }
    return 0;
  });
}

/** Refuses to move endpoints (names, homes) under a started task: its targets are journaled in those homes. */
function checkInventoryChange(tasks: TaskStore, before: InventoryManifest, after: InventoryManifest): void {
  const places = (inv: InventoryManifest) => inv.spec.endpoints.map((e) => [e.name, e.home ?? '']);
  if (sameValue(places(before), places(after))) return;
  const users = tasks
    .listTasks()
    .filter((t) => t.manifest.spec.inventory === after.metadata.name && t.state.phase === 'Started')
    .map((t) => t.name);
  if (users.length > 0) throw new InventoryInUseError(after.metadata.name, users);
}

/** Inventory paths (socket, TLS files, home) made absolute against the file's directory. */
function resolvePaths(inv: InventoryManifest, base: string): InventoryManifest {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const endpoint = (e: EndpointSpec): EndpointSpec => {
    let engine = e.engine;
    if (engine.startsWith('unix://')) engine = `unix://${abs(engine.slice('unix://'.length))}`;
    else if (engine.startsWith('unix:')) engine = `unix://${abs(engine.slice('unix:'.length))}`;
    else if (engine.startsWith('/')) engine = `unix://${engine}`;
    const tls = e.tls && {
      ...e.tls,
      ...(e.tls.ca ? { ca: abs(e.tls.ca) } : {}),
      ...(e.tls.cert ? { cert: abs(e.tls.cert) } : {}),
      ...(e.tls.key ? { key: abs(e.tls.key) } : {}),
    };
    return { ...e, engine, ...(tls ? { tls } : {}), ...(e.home ? { home: abs(e.home) } : {}) };
  };
  return { ...inv, spec: { endpoints: inv.spec.endpoints.map(endpoint) } };
}

/** `molt task run NAME [--detach]`: the final report goes to stdout (targets table, or the task object). */
export async function runCommand(opts: GlobalOptions, name: string, o: RunOptions): Promise<number> {
  const format = await outputFormat(o.output, ['table', 'json', 'yaml']);
  const before = withTasks(opts, (tasks) => tasks.getTask(name));
  if (!before) throw new TaskNotFoundError(name);
  const finished = before.state.phase === 'Success' || before.state.phase === 'Error';
  if (finished)
    say(
      `task/${name} already finished: ${before.state.phase}${before.state.reason ? ` (${before.state.reason})` : ''}; apply a new task to upgrade again`,
    );
  else if (o.detach) {
    if (before.worker && workerAlive(before.worker, name))
      throw new TaskBusyError(name, `pid ${before.worker.pid} on ${before.worker.host}`);
    return spawnDetached(opts, name, moltHome(opts));
  }
  const result: WorkerResult = finished
    ? { task: before, stopped: false }
    : await runWorker(opts, name, { verbose: o.verbose === true, logFile: o.logFile });
  withTasks(opts, (tasks) => {
    const fresh = tasks.getTask(name) ?? result.task;
    process.stdout.write(
      format === 'table' ? renderTargets(tasks.listTargets(name)) : renderTasks(tasks, [fresh], format, true),
    );
  });
  if (result.stopped) return 130;
  return result.task.state.phase === 'Success' ? 0 : 1;
}

/**
 * Runs the worker in this process: the endpoints' stores and engines, SIGINT/SIGTERM as a
 * stop (a second one exits at once, the journal lets the next run continue).
 */
export async function runWorker(
  opts: GlobalOptions,
  name: string,
  o: { verbose: boolean; logFile?: string | undefined },
): Promise<WorkerResult> {
  const home = moltHome(opts);
  const store = Store.open(home);
  const tasks = store.tasks;
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      say(`${signal} again: exiting now; \`molt task run ${name}\` finishes or rolls back what was in flight`);
      process.exit(130);
    }
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const line = o.logFile ? (l: string) => say(`${new Date().toISOString()} ${l}`) : say;
  try {
    const task = tasks.getTask(name);
    if (!task) throw new TaskNotFoundError(name);
    const endpoints = openEndpoints({
      task: task.manifest,
      tasks,
      mainStore: store,
      mainHome: home,
      connectLocal: () => connectEngine(opts),
    });
    try {
      return await runTask(
        {
          tasks,
          endpoints,
          progress: line,
          log: o.verbose ? line : () => {},
          signal: controller.signal,
          ...(o.logFile ? { logFile: o.logFile } : {}),
        },
        name,
      );
    } finally {
      endpoints.close();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    store.close();
  }
}

/** `molt task get [NAME]` and `molt task list`. */
export async function getTasks(opts: GlobalOptions, name: string | undefined, output: string): Promise<number> {
  const format = await outputFormat(output);
  return withTasks(opts, (tasks) => {
    const records = name === undefined ? tasks.listTasks() : [tasks.getTask(name)];
    if (name !== undefined && !records[0]) throw new TaskNotFoundError(name);
    const found = records.filter((r) => r !== undefined);
    if (found.length === 0 && (format === 'table' || format === 'wide')) {
      say('No tasks found.');
      return 0;
    }
    process.stdout.write(renderTasks(tasks, found, format, name !== undefined));
    return 0;
  });
}

/** `molt task describe NAME`. */
export function describeTask(opts: GlobalOptions, name: string): number {
  return withTasks(opts, (tasks) => {
    const task = tasks.getTask(name);
    if (!task) throw new TaskNotFoundError(name);
    process.stdout.write(renderDescribe(tasks, task));
    return 0;
  });
}

/**
 * `molt task cancel NAME`: records the request, then either lets the live worker act on it
 * (signalled, then awaited) or — when no worker runs — finishes or rolls back what a dead
 * worker left in flight right here, and marks the task Error (Cancelled).
 */
export async function cancelTask(opts: GlobalOptions, name: string, timeoutSeconds: number): Promise<number> {
  const state = withTasks(opts, (tasks) => {
    const task = tasks.getTask(name);
    if (!task) throw new TaskNotFoundError(name);
    if (task.state.phase === 'Success' || task.state.phase === 'Error') return task.state;
    tasks.requestCancel(name);
    return undefined;
  });
  if (state) {
    say(`task/${name} already finished: ${state.phase}${state.reason ? ` (${state.reason})` : ''}; nothing to cancel`);
    return 0;
  }
  const handled = await cancelWorker(opts, name, timeoutSeconds);
  if (!handled) {
    say(`no worker is running task/${name}; cancelling it here`);
    await runWorker(opts, name, { verbose: false });
  }
  return withTasks(opts, (tasks) => {
    const task = tasks.getTask(name);
    process.stdout.write(renderTargets(tasks.listTargets(name)));
    say(
      `task/${name}: ${task?.state.phase}${task?.state.reason ? ` (${task.state.reason})` : ''}${task?.state.message ? `: ${task.state.message}` : ''}`,
    );
    return task?.state.phase === 'Error' || task?.state.phase === 'Success' ? 0 : 1;
  });
}

/** `molt task delete NAME`. */
export function deleteTask(opts: GlobalOptions, name: string): number {
  return withTasks(opts, (tasks) => {
    const task = tasks.getTask(name);
    if (!task) throw new TaskNotFoundError(name);
    if (task.state.phase === 'Started' || (task.worker && workerAlive(task.worker, name))) {
      throw new UsageError(
        `task "${name}" is ${task.state.phase}${task.worker ? ` (worker pid ${task.worker.pid})` : ''}`,
        `Cancel it first: \`molt task cancel ${name}\`.`,
      );
    }
    tasks.deleteTask(name);
    process.stdout.write(`upgradetask/${name} deleted\n`);
    return 0;
  });
}
