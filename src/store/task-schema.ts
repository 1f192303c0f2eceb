/**
 * The SQLite tables of UpgradeTasks and Inventories, applied by Store.open after the core
 * schema. Additive changes only: older stores must keep opening.
 *
 * - tasks: the applied manifest, the run state (phase, times, retries, runs), the worker
 *   holding it (pid, host, log) and a cancel request;
 * - task_targets: every selected target, fixed at the first run, with its phase and the
 *   last app operation id seen before it started (`baseline_operation`), so a re-run can tell
 *   an operation of this task from an older one;
 * - task_step_statuses: the `upgradeDetailedStatuses` entries, upserted by key (a Waiting
 *   entry replaced by Completed or Errored), in the order they first appeared;
 * - inventories: applied Inventory manifests.
 */
export const TASK_SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  name TEXT PRIMARY KEY,
  manifest TEXT NOT NULL,
  file TEXT,
  state TEXT NOT NULL,
  worker_pid INTEGER,
  worker_host TEXT,
  worker_started_at TEXT,
  worker_log TEXT,
  cancel_requested_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS task_targets (
  task TEXT NOT NULL,
  target TEXT NOT NULL,
  ord INTEGER NOT NULL,
  endpoint TEXT NOT NULL,
  app TEXT NOT NULL,
  phase TEXT NOT NULL,
  from_version TEXT,
  to_version TEXT,
  reason TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  baseline_operation INTEGER,
  operation INTEGER,
  start_time TEXT,
  completed_time TEXT,
  PRIMARY KEY (task, target)
);
CREATE TABLE IF NOT EXISTS task_step_statuses (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task TEXT NOT NULL,
  target TEXT NOT NULL,
  key TEXT NOT NULL,
  entry TEXT NOT NULL,
  UNIQUE (task, target, key)
);
CREATE INDEX IF NOT EXISTS task_step_statuses_by_task ON task_step_statuses (task, id);
CREATE TABLE IF NOT EXISTS inventories (
  name TEXT PRIMARY KEY,
  manifest TEXT NOT NULL,
  file TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
`;
