/**
 * molt's local state in embedded SQLite (node:sqlite): apps with their manifest and status,
 * operations (every install/upgrade/rollback attempt) with their journaled state, the step
 * log, and per-app locks. The journal is written before each action, so a re-run after a
 * crash reads exactly where the operation was.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { AppBusyError } from '../core/errors.ts';
import type { AppManifest } from '../core/model.ts';
import type { OperationKind, OperationState } from '../core/upgrade-machine.ts';
import { SCHEMA } from './schema.ts';
import { TASK_SCHEMA } from './task-schema.ts';
import { RELEASE_SCHEMA, ReleaseStore } from './release-store.ts';
import { TaskStore } from './task-store.ts';
import type { AppRecord, AppStatus, OperationFacts, OperationRecord, StepRecord } from './types.ts';

/** The store of one molt home directory. */
export class Store {
  readonly #db: DatabaseSync;
  /** Prepared statements by their SQL: compiled once per process, not once per call. */
  readonly #statements = new Map<string, StatementSync>();
  #releases: ReleaseStore | undefined;
  #tasks: TaskStore | undefined;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The release tables of this store (made once). */
  get releases(): ReleaseStore {
    return (this.#releases ??= new ReleaseStore(this));
  }

  /** The task and inventory tables of this store (made once). */
  get tasks(): TaskStore {
    return (this.#tasks ??= new TaskStore(this));
  }

  /**
   * The prepared statement of `sql` on this store's database (also for the tables built on it:
   * StoreAccess), made on first use and kept: preparing costs more than running most of molt's
   * statements, and a task worker runs the same few hundred times per app. Statements are run
   * to completion (get/all/run), never iterated, so one statement serves every caller.
   */
  prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, (statement = this.#db.prepare(sql)));
    return statement;
  }

  /** Opens (creating when missing, owner-only) the store under `home`. */
  static open(home: string): Store {
    if (!existsSync(home)) mkdirSync(home, { recursive: true, mode: 0o700 });
    chmodSync(home, 0o700);
    const file = join(home, 'state.db');
    const db = new DatabaseSync(file, { timeout: 5000 });
    chmodSync(file, 0o600);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
    db.exec(SCHEMA);
    db.exec(TASK_SCHEMA);
    db.exec(RELEASE_SCHEMA);
    return new Store(db);
  }

  close(): void {
    this.#db.close();
  }

  /** Runs `fn` in one IMMEDIATE transaction (a writer lock taken up front). */
  transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (e) {
      this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  // ---- apps ----

  getApp(name: string): AppRecord | undefined {
    const row = this.prepare('SELECT * FROM apps WHERE name = ?').get(name) as RawApp | undefined;
    return row && toApp(row);
  }

  listApps(): AppRecord[] {
    return (this.prepare('SELECT * FROM apps ORDER BY name').all() as unknown as RawApp[]).map(toApp);
  }

  /** Creates or replaces the app's row. `manifest` is what is installed (undefined: nothing yet). */
  saveApp(name: string, manifest: AppManifest | undefined, status: AppStatus): void {
    const now = new Date().toISOString();
    this.prepare(`INSERT INTO apps (name, manifest, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(name) DO UPDATE SET manifest = excluded.manifest, status = excluded.status, updated_at = excluded.updated_at`).run(
      name,
      manifest ? JSON.stringify(manifest) : null,
      JSON.stringify(status),
      now,
      now,
    );
  }

  deleteApp(name: string): void {
    this.transaction(() => {
      this.prepare('DELETE FROM steps WHERE operation_id IN (SELECT id FROM operations WHERE app = ?)').run(name);
      this.prepare('DELETE FROM operations WHERE app = ?').run(name);
      this.prepare('DELETE FROM apps WHERE name = ?').run(name);
      this.prepare('DELETE FROM ip_reservations WHERE app = ?').run(name);
    });
  }

  // ---- operations ----

  createOperation(op: Omit<OperationRecord, 'id' | 'startedAt' | 'finishedAt' | 'facts'>): OperationRecord {
    const startedAt = new Date().toISOString();
    const result = this.prepare(
      'INSERT INTO operations (app, kind, from_version, to_version, plan, state, facts, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      op.app,
      op.kind,
      op.fromVersion ?? null,
      op.toVersion,
      JSON.stringify(op.plan),
      JSON.stringify(op.state),
      '{}',
      startedAt,
    );
    return { ...op, id: Number(result.lastInsertRowid), facts: {}, startedAt };
  }

  /** The app's operation that has not finished, if any. */
  inFlightOperation(app: string): OperationRecord | undefined {
    const row = this.prepare(
      'SELECT * FROM operations WHERE app = ? AND finished_at IS NULL ORDER BY id DESC LIMIT 1',
    ).get(app) as RawOperation | undefined;
    return row && toOperation(row);
  }

  listOperations(app: string): OperationRecord[] {
    return (
      this.prepare('SELECT * FROM operations WHERE app = ? ORDER BY id').all(app) as unknown as RawOperation[]
    ).map(toOperation);
  }

  /** Journals the operation's next state (and facts learned) before the runner acts on it. */
  saveOperationState(id: number, state: OperationState, facts: OperationFacts, finished: boolean): void {
    this.prepare('UPDATE operations SET state = ?, facts = ?, finished_at = ? WHERE id = ?').run(
      JSON.stringify(state),
      JSON.stringify(facts),
      finished ? new Date().toISOString() : null,
      id,
    );
  }

  // ---- steps ----

  startStep(operationId: number, name: string, rollback: boolean): number {
    const r = this.prepare(
      "INSERT INTO steps (operation_id, name, rollback, phase, started_at) VALUES (?, ?, ?, 'Started', ?)",
    ).run(operationId, name, rollback ? 1 : 0, new Date().toISOString());
    return Number(r.lastInsertRowid);
  }

  finishStep(stepId: number, phase: 'Completed' | 'Failed' | 'Interrupted', message: string, output = ''): void {
    this.prepare('UPDATE steps SET phase = ?, finished_at = ?, message = ?, output = ? WHERE id = ?').run(
      phase,
      new Date().toISOString(),
      message,
      output,
      stepId,
    );
  }

  /** Steps left `Started` by a killed process are marked Interrupted. */
  markInterruptedSteps(operationId: number): void {
    this.prepare(
      "UPDATE steps SET phase = 'Interrupted', finished_at = ?, message = 'molt stopped during this step' WHERE operation_id = ? AND phase = 'Started'",
    ).run(new Date().toISOString(), operationId);
  }

  listSteps(operationId: number): StepRecord[] {
    return (
      this.prepare('SELECT * FROM steps WHERE operation_id = ? ORDER BY id').all(operationId) as unknown as RawStep[]
    ).map(toStep);
  }

  // ---- IP reservations ----

  /**
   * Reserves for `app` the first candidate IP on `network` that no other app holds (its own
   * reservation counts as free), atomically across processes. Undefined when none is left.
   */
  reserveIp(network: string, app: string, candidates: Iterable<string>): string | undefined {
    return this.transaction(() => {
      const held = new Map(
        (
          this.prepare('SELECT ip, app FROM ip_reservations WHERE network = ?').all(network) as {
            ip: string;
            app: string;
          }[]
        ).map((r) => [r.ip, r.app]),
      );
      for (const ip of candidates) {
        const holder = held.get(ip);
        if (holder !== undefined && holder !== app) continue;
        this.prepare('INSERT OR REPLACE INTO ip_reservations (network, ip, app) VALUES (?, ?, ?)').run(
          network,
          ip,
          app,
        );
        return ip;
      }
      return undefined;
    });
  }

  /** Forgets every IP reservation of the app. */
  releaseIps(app: string): void {
    this.prepare('DELETE FROM ip_reservations WHERE app = ?').run(app);
  }

  // ---- locks ----

  /** Takes the app's lock for this process, or throws AppBusyError naming the holder. */
  lock(app: string, command: string): void {
    this.transaction(() => {
      const holder = this.lockHolder(app);
      if (holder) throw new AppBusyError(app, holder);
      this.prepare('INSERT OR REPLACE INTO locks (app, pid, host, command, acquired_at) VALUES (?, ?, ?, ?, ?)').run(
        app,
        process.pid,
        hostname(),
        command,
        new Date().toISOString(),
      );
    });
  }

  /** Who else holds the app's lock now (a live process other than this one), or undefined when nobody does. */
  lockHolder(app: string): string | undefined {
    const held = this.prepare('SELECT pid, host, command, acquired_at FROM locks WHERE app = ?').get(app) as
      | RawLock
      | undefined;
    return held && held.pid !== process.pid && isAlive(held)
      ? `\`${held.command}\` (pid ${held.pid} on ${held.host}, since ${held.acquired_at})`
      : undefined;
  }

  unlock(app: string): void {
    this.prepare('DELETE FROM locks WHERE app = ? AND pid = ?').run(app, process.pid);
  }
}

/** A lock holder is alive when it runs on this host and its pid answers signal 0. */
function isAlive(lock: RawLock): boolean {
  if (lock.host !== hostname()) return true;
  try {
    process.kill(lock.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface RawApp {
  name: string;
  manifest: string | null;
  status: string;
  created_at: string;
  updated_at: string;
}
interface RawOperation {
  id: number;
  app: string;
  kind: OperationKind;
  from_version: string | null;
  to_version: string;
  plan: string;
  state: string;
  facts: string;
  started_at: string;
  finished_at: string | null;
}
interface RawStep {
  id: number;
  operation_id: number;
  name: string;
  rollback: number;
  phase: StepRecord['phase'];
  started_at: string;
  finished_at: string | null;
  message: string | null;
  output: string | null;
}
interface RawLock {
  pid: number;
  host: string;
  command: string;
  acquired_at: string;
}

function toApp(r: RawApp): AppRecord {
  return {
    name: r.name,
    manifest: r.manifest ? (JSON.parse(r.manifest) as AppManifest) : undefined,
    status: JSON.parse(r.status) as AppStatus,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toOperation(r: RawOperation): OperationRecord {
  return {
    id: r.id,
    app: r.app,
    kind: r.kind,
    fromVersion: r.from_version ?? undefined,
    toVersion: r.to_version,
    plan: JSON.parse(r.plan) as OperationRecord['plan'],
    state: JSON.parse(r.state) as OperationState,
    facts: JSON.parse(r.facts) as OperationFacts,
    startedAt: r.started_at,
    finishedAt: r.finished_at ?? undefined,
  };
}

function toStep(r: RawStep): StepRecord {
  return {
    id: r.id,
    name: r.name,
    rollback: r.rollback === 1,
    phase: r.phase,
    startedAt: r.started_at,
    finishedAt: r.finished_at ?? undefined,
    message: r.message ?? '',
    output: r.output ?? '',
  };
}
