/**
 * Records of UpgradeTasks and Inventories in molt's SQLite store (tables in task-schema.ts):
 * the applied task, its run state, its targets, its detailed step statuses, the worker that
 * holds it, and cancel requests. Like the app journal, the worker writes here before it acts,
 * so a re-run reads exactly where the task was.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { InventoryManifest, UpgradeTaskManifest } from '../core/task.ts';
import type { DetailedStatus, TargetPhase, TaskPhase } from '../core/task-progress.ts';
import { TaskBusyError } from '../core/task-errors.ts';
import type { StoreAccess } from './access.ts';

/** The run state of a task (its status without targets and step entries). */
export interface TaskRunState {
  phase: TaskPhase;
  startTime?: string;
  completedTime?: string;
  /** Further attempts made for failed targets (options.retries). */
  retries: number;
  /** Worker runs; more than 1 means the task was resumed after a worker stopped. */
  runs: number;
  reason?: string;
  message?: string;
}

/** The process running a task. */
export interface WorkerRecord {
  pid: number;
  host: string;
  startedAt: string;
  log?: string;
}

/** One applied task. */
export interface TaskRecord {
  name: string;
  manifest: UpgradeTaskManifest;
  file?: string;
  state: TaskRunState;
  worker?: WorkerRecord;
  cancelRequestedAt?: string;
  createdAt: string;
  updatedAt: string;
}

/** One target of a task. */
export interface TargetRecord {
  /** `app`, or `endpoint/app` when the task runs on an inventory. */
  target: string;
  ord: number;
  endpoint: string;
  app: string;
  phase: TargetPhase;
  fromVersion?: string;
  toVersion?: string;
  reason: string;
  message: string;
  attempts: number;
  /** The app's newest operation id before this task first acted on it (0: none). */
  baselineOperation?: number;
  /** The app operation this task ran for it (the latest attempt). */
  operation?: number;
  startTime?: string;
  completedTime?: string;
}

/** One applied inventory. */
export interface InventoryRecord {
  name: string;
  manifest: InventoryManifest;
  file?: string;
  updatedAt: string;
}

/** Task and inventory records on top of a Store's database. */
export class TaskStore {
  readonly #store: StoreAccess;

  constructor(store: StoreAccess) {
    this.#store = store;
  }

  /** Runs `fn` in one IMMEDIATE transaction. */
  transaction<T>(fn: () => T): T {
    return this.#store.transaction(fn);
  }

  // ---- tasks ----

  /** Creates the task (Pending) or replaces its manifest, keeping its run state. */
  saveTask(manifest: UpgradeTaskManifest, file: string | undefined): void {
    const now = new Date().toISOString();
    const state: TaskRunState = { phase: 'Pending', retries: 0, runs: 0 };
    this.#store
      .prepare(`INSERT INTO tasks (name, manifest, file, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT(name) DO UPDATE SET manifest = excluded.manifest, file = excluded.file, updated_at = excluded.updated_at`)
      .run(manifest.metadata.name, JSON.stringify(manifest), file ?? null, JSON.stringify(state), now, now);
  }

  getTask(name: string): TaskRecord | undefined {
    const row = this.#store.prepare('SELECT * FROM tasks WHERE name = ?').get(name) as RawTask | undefined;
    return row && toTask(row);
  }

  listTasks(): TaskRecord[] {
    return (this.#store.prepare('SELECT * FROM tasks ORDER BY created_at, name').all() as unknown as RawTask[]).map(
      toTask,
    );
  }

  /** Deletes the task with its targets and step statuses. */
  deleteTask(name: string): void {
    this.transaction(() => {
      for (const table of ['task_step_statuses', 'task_targets'])
        this.#store.prepare(`DELETE FROM ${table} WHERE task = ?`).run(name);
      this.#store.prepare('DELETE FROM tasks WHERE name = ?').run(name);
    });
  }

  saveState(name: string, state: TaskRunState): void {
    this.#store
      .prepare('UPDATE tasks SET state = ?, updated_at = ? WHERE name = ?')
      .run(JSON.stringify(state), new Date().toISOString(), name);
  }

  /** Makes this process the task's worker, or throws TaskBusyError naming the live holder. */
  claimWorker(name: string, log: string | undefined): void {
    this.transaction(() => {
      const held = this.getTask(name)?.worker;
      if (held && held.pid !== process.pid && workerAlive(held, name)) {
        throw new TaskBusyError(
          name,
          `pid ${held.pid} on ${held.host} (since ${held.startedAt}${held.log ? `, log ${held.log}` : ''})`,
        );
      }
      this.#store
        .prepare(
          'UPDATE tasks SET worker_pid = ?, worker_host = ?, worker_started_at = ?, worker_log = ? WHERE name = ?',
        )
        .run(process.pid, hostname(), new Date().toISOString(), log ?? null, name);
    });
  }

  /** Clears the worker when it is this process. */
  releaseWorker(name: string): void {
    this.#store
      .prepare(
        'UPDATE tasks SET worker_pid = NULL, worker_host = NULL, worker_started_at = NULL WHERE name = ? AND worker_pid = ?',
      )
      .run(name, process.pid);
  }

  /** Records that the task is to be cancelled (the worker reads it, or the canceller acts). */
  requestCancel(name: string): void {
    this.#store
      .prepare('UPDATE tasks SET cancel_requested_at = COALESCE(cancel_requested_at, ?) WHERE name = ?')
      .run(new Date().toISOString(), name);
  }

  // ---- targets ----

  /** Journals the selected targets (first run only). */
  insertTargets(name: string, targets: TargetRecord[]): void {
    this.transaction(() => {
      const insert =
        this.#store.prepare(`INSERT OR IGNORE INTO task_targets (task, target, ord, endpoint, app, phase, from_version, to_version, reason, message, attempts)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const t of targets)
        insert.run(
          name,
          t.target,
          t.ord,
          t.endpoint,
          t.app,
          t.phase,
          t.fromVersion ?? null,
          t.toVersion ?? null,
          t.reason,
          t.message,
          t.attempts,
        );
    });
  }

  listTargets(name: string): TargetRecord[] {
    return (
      this.#store.prepare('SELECT * FROM task_targets WHERE task = ? ORDER BY ord').all(name) as unknown as RawTarget[]
    ).map(toTarget);
  }

  saveTarget(name: string, t: TargetRecord): void {
    this.#store
      .prepare(`UPDATE task_targets SET phase = ?, from_version = ?, to_version = ?, reason = ?, message = ?, attempts = ?, baseline_operation = ?,
        operation = ?, start_time = ?, completed_time = ? WHERE task = ? AND target = ?`)
      .run(
        t.phase,
        t.fromVersion ?? null,
        t.toVersion ?? null,
        t.reason,
        t.message,
        t.attempts,
        t.baselineOperation ?? null,
        t.operation ?? null,
        t.startTime ?? null,
        t.completedTime ?? null,
        name,
        t.target,
      );
  }

  // ---- detailed step statuses ----

  /** Writes the entry under `key`: a new one is appended, an existing one replaced in place. */
  upsertStatus(name: string, key: string, entry: DetailedStatus): void {
    this.#store
      .prepare(
        'INSERT INTO task_step_statuses (task, target, key, entry) VALUES (?, ?, ?, ?) ON CONFLICT(task, target, key) DO UPDATE SET entry = excluded.entry',
      )
      .run(name, entry.target, key, JSON.stringify(entry));
  }

  /** The entry under `key`, if written. */
  getStatus(name: string, target: string, key: string): DetailedStatus | undefined {
    const row = this.#store
      .prepare('SELECT entry FROM task_step_statuses WHERE task = ? AND target = ? AND key = ?')
      .get(name, target, key) as { entry: string } | undefined;
    return row && (JSON.parse(row.entry) as DetailedStatus);
  }

  /** Every entry of the task, in the order they first appeared. */
  listStatuses(name: string): DetailedStatus[] {
    return (
      this.#store.prepare('SELECT entry FROM task_step_statuses WHERE task = ? ORDER BY id').all(name) as {
        entry: string;
      }[]
    ).map((r) => JSON.parse(r.entry) as DetailedStatus);
  }

  // ---- inventories ----

  saveInventory(manifest: InventoryManifest, file: string | undefined): void {
    const now = new Date().toISOString();
    this.#store
      .prepare(`INSERT INTO inventories (name, manifest, file, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(name) DO UPDATE SET manifest = excluded.manifest, file = excluded.file, updated_at = excluded.updated_at`)
      .run(manifest.metadata.name, JSON.stringify(manifest), file ?? null, now, now);
  }

  getInventory(name: string): InventoryRecord | undefined {
    const row = this.#store.prepare('SELECT * FROM inventories WHERE name = ?').get(name) as RawInventory | undefined;
    return (
      row && {
        name: row.name,
        manifest: JSON.parse(row.manifest) as InventoryManifest,
        file: row.file ?? undefined,
        updatedAt: row.updated_at,
      }
    );
  }
}

/**
 * True when the worker still runs: on this host, its pid answers and (where /proc exists) its
 * command line is a `task run` of this task — a recycled pid is not mistaken for it. A worker
 * on another host counts as alive: molt cannot look.
 */
export function workerAlive(worker: WorkerRecord, task: string): boolean {
  if (worker.host !== hostname()) return true;
  try {
    process.kill(worker.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const argv = readFileSync(`/proc/${worker.pid}/cmdline`, 'utf8').split('\0');
    const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${worker.pid}/status`, 'utf8'))?.[1];
    return state !== 'Z' && argv.includes('task') && argv.includes(task);
  } catch {
    return true;
  }
}

interface RawTask {
  name: string;
  manifest: string;
  file: string | null;
  state: string;
  worker_pid: number | null;
  worker_host: string | null;
  worker_started_at: string | null;
  worker_log: string | null;
  cancel_requested_at: string | null;
  created_at: string;
  updated_at: string;
}
interface RawTarget {
  target: string;
  ord: number;
  endpoint: string;
  app: string;
  phase: TargetPhase;
  from_version: string | null;
  to_version: string | null;
  reason: string;
  message: string;
  attempts: number;
  baseline_operation: number | null;
  operation: number | null;
  start_time: string | null;
  completed_time: string | null;
}
interface RawInventory {
  name: string;
  manifest: string;
  file: string | null;
  updated_at: string;
}

function toTask(r: RawTask): TaskRecord {
  const worker =
    r.worker_pid !== null && r.worker_host !== null
      ? {
          pid: r.worker_pid,
          host: r.worker_host,
          startedAt: r.worker_started_at ?? '',
          ...(r.worker_log ? { log: r.worker_log } : {}),
        }
      : undefined;
  return {
    name: r.name,
    manifest: JSON.parse(r.manifest) as UpgradeTaskManifest,
    file: r.file ?? undefined,
    state: JSON.parse(r.state) as TaskRunState,
    worker,
    cancelRequestedAt: r.cancel_requested_at ?? undefined,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toTarget(r: RawTarget): TargetRecord {
  return {
    target: r.target,
    ord: r.ord,
    endpoint: r.endpoint,
    app: r.app,
    phase: r.phase,
    fromVersion: r.from_version ?? undefined,
    toVersion: r.to_version ?? undefined,
    reason: r.reason,
    message: r.message,
    attempts: r.attempts,
    baselineOperation: r.baseline_operation ?? undefined,
    operation: r.operation ?? undefined,
    startTime: r.start_time ?? undefined,
    completedTime: r.completed_time ?? undefined,
  };
}
