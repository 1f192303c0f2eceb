/**
 * Whether the user wants each app to run: `molt stop` records "stopped", `molt start` (and
 * any apply that runs an operation) "running". `molt up`, `apply` and the observed status
 * respect it. Its own table, created on first use (additive: older stores keep opening).
 */
import type { RunIntent } from '../core/observed.ts';
import type { Store } from './store.ts';

const INTENTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS run_intents (
  app TEXT PRIMARY KEY,
  desired TEXT NOT NULL,
  changed_at TEXT NOT NULL
);
`;

/** The run intents of one store. */
export class RunIntents {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
    store.prepare(INTENTS_SCHEMA).run();
  }

  /** The app's recorded intent; undefined means it was never stopped on purpose (it should run). */
  get(app: string): RunIntent | undefined {
    const row = this.#store.prepare('SELECT desired, changed_at FROM run_intents WHERE app = ?').get(app) as
      | { desired: RunIntent['desired']; changed_at: string }
      | undefined;
    return row && { desired: row.desired, changedAt: row.changed_at };
  }

  /** Every recorded intent by app. */
  all(): Map<string, RunIntent> {
    const rows = this.#store.prepare('SELECT app, desired, changed_at FROM run_intents').all() as {
      app: string;
      desired: RunIntent['desired'];
      changed_at: string;
    }[];
    return new Map(rows.map((r) => [r.app, { desired: r.desired, changedAt: r.changed_at }]));
  }

  /** Records the intent (journaled before molt acts on it). */
  set(app: string, desired: RunIntent['desired']): RunIntent {
    const changedAt = new Date().toISOString();
    this.#store
      .prepare(
        'INSERT INTO run_intents (app, desired, changed_at) VALUES (?, ?, ?) ON CONFLICT(app) DO UPDATE SET desired = excluded.desired, changed_at = excluded.changed_at',
      )
      .run(app, desired, changedAt);
    return { desired, changedAt };
  }

  /** Forgets the app's intent (when the app is deleted). */
  forget(app: string): void {
    this.#store.prepare('DELETE FROM run_intents WHERE app = ?').run(app);
  }
}
