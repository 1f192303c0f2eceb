/**
 * What `molt task get/describe/run` print for UpgradeTask resources on a cluster: the same
 * columns and sections as for local tasks (task-render.ts), read from the resource's status.
 */
import { formatSelector } from '../core/selector.ts';
import { countTargets, type TargetPhase } from '../core/task-progress.ts';
import type { UpgradeTaskSpec } from '../core/task.ts';
import type { TaskObject } from '../operator/task/index.ts';
import { countsText, TASK_LIST_HEADER } from './task-render.ts';
import { age, structured, table, type OutputFormat } from './output.ts';

function counts(t: TaskObject) {
  return t.status?.counts ?? countTargets((t.status?.targets ?? []).map((x) => x.phase as TargetPhase));
}

/** `molt task get [NAME]` / `list`. */
export function renderKubeTasks(items: TaskObject[], format: OutputFormat, single: boolean): string {
  if (format === 'json' || format === 'yaml') {
    const objects = items.map((t) => {
      const { managedFields: _managed, ...metadata } = t.metadata as typeof t.metadata & { managedFields?: unknown };
      return { apiVersion: 'molt.dev/v1alpha1', kind: 'UpgradeTask', metadata, spec: t.spec, status: t.status ?? {} };
    });
    return structured(
      single && objects[0] ? objects[0] : { apiVersion: 'molt.dev/v1alpha1', kind: 'List', items: objects },
      format,
    );
  }
  const wide = format === 'wide';
  const header = [...TASK_LIST_HEADER, ...(wide ? ['TO', 'REASON', 'JOB'] : [])];
  const rows = items.map((t) => {
    const c = counts(t);
    const spec = t.spec as Partial<UpgradeTaskSpec> | undefined;
    return [
      t.metadata.name ?? '',
      t.status?.phase ?? 'Pending',
      String(c.total),
      String(c.done),
      String(c.failed),
      String(c.running),
      String(c.pending + c.notStarted),
      age(t.metadata.creationTimestamp),
      ...(wide
        ? [spec?.toVersion ?? `release ${spec?.toRelease ?? '?'}`, t.status?.reason ?? '', t.status?.job ?? '']
        : []),
    ];
  });
  return table(header, rows);
}

/** One row per target. */
export function renderKubeTargets(t: TaskObject): string {
  const targets = t.status?.targets ?? [];
  if (targets.length === 0) return 'no targets\n';
  return table(
    ['TARGET', 'FROM', 'TO', 'RESULT', 'REASON', 'DURATION'],
    targets.map((x) => [
      x.name,
      x.fromVersion ?? '<none>',
      x.toVersion ?? '<none>',
      x.phase,
      x.phase === 'Upgraded' ? '' : x.reason,
      took(x.startTime, x.completedTime),
    ]),
  );
}

/** `molt task describe NAME`. */
export function renderKubeDescribe(t: TaskObject): string {
  const spec = t.spec as UpgradeTaskSpec;
  const s = t.status ?? {};
  const which =
    spec.target.app !== undefined
      ? `app ${spec.target.app}`
      : `selector ${formatSelector({ matchLabels: {}, matchExpressions: [], ...spec.target.selector })}`;
  const options = spec.options ?? {};
  const lines = [
    ['Name', t.metadata.name ?? ''],
    ['Namespace', t.metadata.namespace ?? ''],
    ['Target', `${which} (Apps of the namespace)`],
    [
      'Upgrade',
      `${spec.fromVersion ?? '*'} → ${spec.toVersion ?? `release ${spec.toRelease}`} (image ${spec.imageTemplate ?? '{repository}:{version}'})`,
    ],
    [
      'Options',
      `concurrency ${options.concurrency ?? 1}, maxFailureRatio ${options.maxFailureRatio ?? 0}, retries ${options.retries ?? 0}, timeout ${options.timeout ?? '10m'}`,
    ],
    ['Phase', `${s.phase ?? 'Pending'}${s.reason ? ` (${s.reason})` : ''}${s.message ? `: ${s.message}` : ''}`],
    ['Job', s.job ?? '<none yet>'],
    ['Started', s.startTime ?? '<not yet>'],
    ['Completed', s.completedTime ?? '<not yet>'],
    ['Runs / retries', `${s.runs ?? 0} / ${s.retries ?? 0}`],
    ['Counts', countsText(counts(t))],
  ];
  const width = Math.max(...lines.map(([k]) => (k ?? '').length)) + 2;
  const head = lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n');
  const steps = s.upgradeDetailedStatuses ?? [];
  const stepTable =
    steps.length === 0
      ? 'none yet\n'
      : table(
          ['TARGET', 'STEP', 'PHASE', 'DURATION', 'REASON', 'MESSAGE'],
          steps.map((e) => [
            e.target,
            e.step,
            e.phase,
            took(e.startTime, e.phase === 'Waiting' ? undefined : e.lastUpdatedAt),
            e.reason,
            (e.message.split('\n')[0] ?? '').slice(0, 100),
          ]),
        );
  return `${head}\n\nTargets:\n${indent(renderKubeTargets(t))}\nSteps:\n${indent(stepTable)}`;
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
