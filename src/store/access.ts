/**
 * What the release and task tables need of a Store: statements on its database and its
 * transactions — the database handle itself stays private to store.ts.
 */
import type { StatementSync } from 'node:sqlite';

/** A store's database, as the tables built on it use it. */
export interface StoreAccess {
  /** A prepared statement on the store's database. */
  prepare(sql: string): StatementSync;
  /** Runs `fn` in one IMMEDIATE transaction. */
  transaction<T>(fn: () => T): T;
}
