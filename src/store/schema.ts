/** The SQLite schema of molt's store. Additive changes only: older stores must keep opening. */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS apps (
  name TEXT PRIMARY KEY,
  manifest TEXT,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS operations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  app TEXT NOT NULL,
  kind TEXT NOT NULL,
  from_version TEXT,
  to_version TEXT NOT NULL,
  plan TEXT NOT NULL,
  state TEXT NOT NULL,
  facts TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX IF NOT EXISTS operations_by_app ON operations (app, id);
CREATE TABLE IF NOT EXISTS steps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  operation_id INTEGER NOT NULL REFERENCES operations (id),
  name TEXT NOT NULL,
  rollback INTEGER NOT NULL,
  phase TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  message TEXT,
  output TEXT
);
CREATE INDEX IF NOT EXISTS steps_by_operation ON steps (operation_id, id);
CREATE TABLE IF NOT EXISTS ip_reservations (
  network TEXT NOT NULL,
  ip TEXT NOT NULL,
  app TEXT NOT NULL,
  PRIMARY KEY (network, ip)
);
CREATE TABLE IF NOT EXISTS locks (
  app TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  command TEXT NOT NULL,
  acquired_at TEXT NOT NULL
);
`;
