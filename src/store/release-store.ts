/**
 * The release catalog and the apps that run releases, in molt's SQLite store; plus each
 * rollout's event log (member started/upgraded/failed/reverted, hooks) for `molt history`.
 * Members themselves are ordinary single-container apps in the apps table.
 */
import type { ReleaseAppManifest, ReleaseManifest } from '../core/release-schema.ts';
import type { ReleaseAppStatus } from '../core/release-status.ts';
import type { StoreAccess } from './access.ts';

/** Tables of this module; created by Store.open. */
export const RELEASE_SCHEMA = `
CREATE TABLE IF NOT EXISTS releases (name TEXT PRIMARY KEY, manifest TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS release_apps (name TEXT PRIMARY KEY, manifest TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rollouts (id INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL, kind TEXT NOT NULL, from_release TEXT, to_release TEXT NOT NULL, outcome TEXT, started_at TEXT NOT NULL, finished_at TEXT);
CREATE TABLE IF NOT EXISTS rollout_events (id INTEGER PRIMARY KEY AUTOINCREMENT, rollout_id INTEGER NOT NULL REFERENCES rollouts (id), at TEXT NOT NULL, role TEXT, member TEXT, event TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS rollout_events_by_rollout ON rollout_events (rollout_id, id);
`;

/** One app that runs a release. */
export interface ReleaseAppRecord {
  name: string;
  manifest: ReleaseAppManifest;
  status: ReleaseAppStatus;
  createdAt: string;
}

/** One rollout (install, upgrade, scale or rollback of a release app) with its events. */
export interface RolloutRecord {
  id: number;
  app: string;
  kind: string;
  fromRelease?: string;
  toRelease: string;
  outcome?: string;
  startedAt: string;
  finishedAt?: string;
  events: { at: string; role?: string; member?: string; event: string; message: string }[];
}

/** Access to the release tables of a store. */
export class ReleaseStore {
  readonly #store: StoreAccess;

  constructor(store: StoreAccess) {
    this.#store = store;
  }

  getRelease(name: string): ReleaseManifest | undefined {
    const row = this.#store.prepare('SELECT manifest FROM releases WHERE name = ?').get(name) as
      | { manifest: string }
      | undefined;
    return row && (JSON.parse(row.manifest) as ReleaseManifest);
  }

  listReleases(): ReleaseManifest[] {
    return (this.#store.prepare('SELECT manifest FROM releases ORDER BY name').all() as { manifest: string }[]).map(
      (r) => JSON.parse(r.manifest) as ReleaseManifest,
    );
  }

  saveRelease(release: ReleaseManifest): void {
    const now = new Date().toISOString();
    this.#store
      .prepare(
        'INSERT INTO releases (name, manifest, created_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET manifest = excluded.manifest, updated_at = excluded.updated_at',
      )
      .run(release.metadata.name, JSON.stringify(release), now, now);
  }

  /** Apps whose members run `release` (any member, during a rollout too). */
  appsUsing(release: string): string[] {
    return this.listApps()
      .filter(
        (a) =>
          a.manifest.spec.release === release ||
          a.status.release === release ||
          a.status.upgradeInfo?.prevRelease === release,
      )
      .map((a) => a.name);
  }

  getApp(name: string): ReleaseAppRecord | undefined {
    const row = this.#store.prepare('SELECT * FROM release_apps WHERE name = ?').get(name) as RawApp | undefined;
    return row && toApp(row);
  }

  listApps(): ReleaseAppRecord[] {
    return (this.#store.prepare('SELECT * FROM release_apps ORDER BY name').all() as unknown as RawApp[]).map(toApp);
  }

  saveApp(manifest: ReleaseAppManifest, status: ReleaseAppStatus): void {
    const now = new Date().toISOString();
    this.#store
      .prepare(
        'INSERT INTO release_apps (name, manifest, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET manifest = excluded.manifest, status = excluded.status, updated_at = excluded.updated_at',
      )
      .run(manifest.metadata.name, JSON.stringify(manifest), JSON.stringify(status), now, now);
  }

  /** Changes the stored status in one synchronous read-modify-write. */
  updateStatus(name: string, change: (s: ReleaseAppStatus) => ReleaseAppStatus): ReleaseAppStatus {
    const app = this.getApp(name);
    if (!app) throw new Error(`internal: release app ${name} vanished`);
    const next = change(app.status);
    this.#store
      .prepare('UPDATE release_apps SET status = ?, updated_at = ? WHERE name = ?')
      .run(JSON.stringify(next), new Date().toISOString(), name);
    return next;
  }

  deleteApp(name: string): void {
    this.#store.transaction(() => {
      this.#store
        .prepare('DELETE FROM rollout_events WHERE rollout_id IN (SELECT id FROM rollouts WHERE app = ?)')
        .run(name);
      this.#store.prepare('DELETE FROM rollouts WHERE app = ?').run(name);
      this.#store.prepare('DELETE FROM release_apps WHERE name = ?').run(name);
    });
  }

  startRollout(app: string, kind: string, fromRelease: string | undefined, toRelease: string): number {
    const r = this.#store
      .prepare('INSERT INTO rollouts (app, kind, from_release, to_release, started_at) VALUES (?, ?, ?, ?, ?)')
      .run(app, kind, fromRelease ?? null, toRelease, new Date().toISOString());
    return Number(r.lastInsertRowid);
  }

  finishRollout(id: number, outcome: string): void {
    this.#store
      .prepare('UPDATE rollouts SET outcome = ?, finished_at = ? WHERE id = ?')
      .run(outcome, new Date().toISOString(), id);
  }

  event(rollout: number, event: string, message: string, role?: string, member?: string): void {
    this.#store
      .prepare('INSERT INTO rollout_events (rollout_id, at, role, member, event, message) VALUES (?, ?, ?, ?, ?, ?)')
      .run(rollout, new Date().toISOString(), role ?? null, member ?? null, event, message);
  }

  listRollouts(app: string): RolloutRecord[] {
    const rows = this.#store
      .prepare('SELECT * FROM rollouts WHERE app = ? ORDER BY id')
      .all(app) as unknown as RawRollout[];
    return rows.map((r) => ({
      id: r.id,
      app: r.app,
      kind: r.kind,
      fromRelease: r.from_release ?? undefined,
      toRelease: r.to_release,
      outcome: r.outcome ?? undefined,
      startedAt: r.started_at,
      finishedAt: r.finished_at ?? undefined,
      events: (
        this.#store
          .prepare('SELECT at, role, member, event, message FROM rollout_events WHERE rollout_id = ? ORDER BY id')
          .all(r.id) as { at: string; role: string | null; member: string | null; event: string; message: string }[]
      ).map((e) => ({
        at: e.at,
        event: e.event,
        message: e.message,
        ...(e.role ? { role: e.role } : {}),
        ...(e.member ? { member: e.member } : {}),
      })),
    }));
  }
}

interface RawApp {
  name: string;
  manifest: string;
  status: string;
  created_at: string;
}
interface RawRollout {
  id: number;
  app: string;
  kind: string;
  from_release: string | null;
  to_release: string;
  outcome: string | null;
  started_at: string;
  finished_at: string | null;
}

function toApp(r: RawApp): ReleaseAppRecord {
  return {
    name: r.name,
    manifest: JSON.parse(r.manifest) as ReleaseAppManifest,
    status: JSON.parse(r.status) as ReleaseAppStatus,
    createdAt: r.created_at,
  };
}
