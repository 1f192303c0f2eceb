/**
 * What the `molt task` commands print: the task object (kubectl-like apiVersion, kind,
 * metadata, spec, status with upgradeDetailedStatuses), the list table, the targets table
 * and `describe`. Nothing here writes by itself.
 */
import { formatSelector } from '../core/selector.ts';
import { countTargets, type DetailedStatus, type TargetCounts } from '../core/task-progress.ts';
import type { TargetRecord, TaskRecord, TaskStore } from '../store/task-store.ts';
import { workerAlive } from '../store/task-store.ts';
import { age, structured, table, type OutputFormat } from './output.ts';

/** The object `molt task get NAME -o json|yaml` prints. */
export function taskObject(tasks: TaskStore, task: TaskRecord): Record<string, unknown> {
  const targets = tasks.listTargets(task.name);
  const worker = task.worker && workerAlive(task.worker, task.name) ? task.worker : undefined;
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'UpgradeTask',
    metadata: { name: task.name, labels: task.manifest.metadata.labels, creationTimestamp: task.createdAt },
    spec: task.manifest.spec,
    status: {
      ...task.state,
      ...(task.cancelRequestedAt ? { cancelRequestedAt: task.cancelRequestedAt } : {}),
      counts: countTargets(targets.map((t) => t.phase)),
      ...(worker ? { worker } : {}),
      targets: targets.map(targetObject),
      upgradeDetailedStatuses: tasks.listStatuses(task.name),
    },
  };
}

function targetObject(t: TargetRecord): Record<string, unknown> {
  return {
    target: t.target,
    endpoint: t.endpoint,
    app: t.app,
    phase: t.phase,
    fromVersion: t.fromVersion ?? null,
    toVersion: t.toVersion ?? null,
    reason: t.reason,
    message: t.message,
    attempts: t.attempts,
    operation: t.operation ?? null,
    startTime: t.startTime ?? null,
    completedTime: t.completedTime ?? null,
  };
}

/** `molt task list` / `molt task get [NAME]`. */
export function renderTasks(tasks: TaskStore, records: TaskRecord[], format: OutputFormat, single: boolean): string {
  if (format === 'json' || format === 'yaml') {
    const objects = records.map((r) => taskObject(tasks, r));
    return structured(
      single && objects[0] ? objects[0] : { apiVersion: 'molt.dev/v1alpha1', kind: 'List', items: objects },
      format,
    );
  }
  const wide = format === 'wide';
  const header = [...TASK_LIST_HEADER, ...(wide ? ['TO', 'REASON'] : [])];
  const rows = records.map((r) => {
    const c = countTargets(tasks.listTargets(r.name).map((t) => t.phase));
    return [
      r.name,
      r.state.phase,
      String(c.total),
      String(c.done),
      String(c.failed),
      String(c.running),
      String(c.pending + c.notStarted),
      age(r.createdAt),
      ...(wide ? [r.manifest.spec.toVersion ?? `release ${r.manifest.spec.toRelease}`, r.state.reason ?? ''] : []),
    ];
  });
  return table(header, rows);
}

/** The final report of a run: one row per target. */
export function renderTargets(targets: TargetRecord[]): string {
  if (targets.length === 0) return 'no targets\n';
  const rows = targets.map((t) => [
    t.target,
    t.fromVersion ?? '<none>',
    t.toVersion ?? '<none>',
    t.phase,
    t.phase === 'Upgraded' ? '' : t.reason,
    took(t.startTime, t.completedTime),
  ]);
  return table(['TARGET', 'FROM', 'TO', 'RESULT', 'REASON', 'DURATION'], rows);
}

/** `molt task describe NAME`. */
export function renderDescribe(tasks: TaskStore, task: TaskRecord): string {
  const spec = task.manifest.spec;
  const targets = tasks.listTargets(task.name);
  const c = countTargets(targets.map((t) => t.phase));
  const worker =
    task.worker && workerAlive(task.worker, task.name)
      ? `pid ${task.worker.pid} on ${task.worker.host} since ${task.worker.startedAt}${task.worker.log ? `; log ${task.worker.log}` : ''}`
      : '<none>';
  const which =
    spec.target.app !== undefined
      ? `app ${spec.target.app}`
      : `selector ${formatSelector(spec.target.selector ?? { matchLabels: {}, matchExpressions: [] })}`;
  const narrowed = spec.target.role
    ? `, role ${spec.target.role}`
    : spec.target.member
      ? `, member ${spec.target.member}`
      : '';
  const lines = [
    ['Name', task.name],
    ['Target', `${which}${narrowed}${spec.inventory ? ` on inventory ${spec.inventory}` : ' on the local engine'}`],
    [
      'Upgrade',
      `${spec.fromVersion ?? '*'} → ${spec.toVersion ?? `release ${spec.toRelease}`} (image ${spec.imageTemplate})`,
    ],
    [
      'Options',
      `concurrency ${spec.options.concurrency}, maxFailureRatio ${spec.options.maxFailureRatio}, retries ${spec.options.retries}, timeout ${spec.options.timeout}`,
    ],
    [
      'Phase',
      `${task.state.phase}${task.state.reason ? ` (${task.state.reason})` : ''}${task.state.message ? `: ${task.state.message}` : ''}`,
    ],
    ['Started', task.state.startTime ?? '<not yet>'],
    ['Completed', task.state.completedTime ?? '<not yet>'],
    ['Runs / retries', `${task.state.runs} / ${task.state.retries}`],
    ['Worker', worker],
    ...(task.cancelRequestedAt ? [['Cancel requested', task.cancelRequestedAt]] : []),
    ['Counts', countsText(c)],
  ];
  const width = Math.max(...lines.map(([k]) => (k ?? '').length)) + 2;
  const head = lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n');
  return `${head}\n\nTargets:\n${indent(renderTargets(targets))}\nSteps:\n${indent(renderSteps(tasks.listStatuses(task.name)))}`;
}

function renderSteps(entries: DetailedStatus[]): string {
  if (entries.length === 0) return 'none yet\n';
  const byTarget = [...entries].sort((a, b) => a.target.localeCompare(b.target));
  return table(
    ['TARGET', 'STEP', 'PHASE', 'DURATION', 'REASON', 'MESSAGE'],
    byTarget.map((e) => [
      e.target,
      e.step,
      e.phase,
      took(e.startTime, e.phase === 'Waiting' ? undefined : e.lastUpdatedAt),
      e.reason,
      (e.message.split('\n')[0] ?? '').slice(0, 100),
    ]),
  );
}

/** `done 7, failed 0, running 4, pending 9, not started 0 (of 20)`. */
/** The columns of a task list on both engines (`molt task list`); `-o wide` adds more. */
export const TASK_LIST_HEADER = ['NAME', 'PHASE', 'TARGETS', 'DONE', 'FAILED', 'RUNNING', 'PENDING', 'AGE'];

export function countsText(c: TargetCounts): string {
  return `done ${c.done}, failed ${c.failed}, running ${c.running}, pending ${c.pending}, not started ${c.notStarted} (of ${c.total})`;
}

function took(start: string | undefined, end: string | undefined): string {
  if (!start || !end) return '-';
  return `${((Date.parse(end) - Date.parse(start)) / 1000).toFixed(1)}s`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
}
