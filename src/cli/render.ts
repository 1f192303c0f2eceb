/** What `get` and `history` print. */
import type { SnapshotSet } from '../store/snapshots.ts';
import type { AppRecord, OperationRecord, StepRecord } from '../store/types.ts';
import { age, structured, table, type OutputFormat } from './output.ts';

/** The object `get app -o json|yaml` prints: kubectl-like metadata, spec and status. */
export function appObject(app: AppRecord): Record<string, unknown> {
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name: app.name, labels: app.manifest?.metadata.labels ?? {}, creationTimestamp: app.createdAt },
    spec: app.manifest?.spec ?? null,
    status: app.status,
  };
}

/** `molt get apps` (a List) or `molt get app NAME` (`single`: the object itself). */
export function renderApps(apps: AppRecord[], format: OutputFormat, single: boolean): string {
  if (format === 'json' || format === 'yaml') {
    return structured(
      single && apps[0]
        ? appObject(apps[0])
        : { apiVersion: 'molt.dev/v1alpha1', kind: 'List', items: apps.map(appObject) },
      format,
    );
  }
  const wide = format === 'wide';
  return table(
    appHeader(wide),
    apps.map((a) => appRow(a, wide)),
  );
}

/** The operations of an app as `history -o json|yaml` shows them. */
export function historyObjects(entries: HistoryEntry[]): Record<string, unknown>[] {
  return entries.map(({ operation: o, steps }) => ({
    id: o.id,
    kind: o.plan.trigger === 'apply' ? o.kind : 'rollback',
    from: o.fromVersion ?? null,
    to: o.toVersion,
    outcome: outcome(o),
    error: 'cause' in o.state ? o.state.cause : null,
    warnings: o.plan.warnings,
    startedAt: o.startedAt,
    finishedAt: o.finishedAt ?? null,
    steps: steps.map((s) => ({
      name: s.name,
      rollback: s.rollback,
      phase: s.phase,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt ?? null,
      message: s.message,
      output: s.output,
    })),
  }));
}

/** The columns of `get apps`. */
export function appHeader(wide: boolean): string[] {
  return ['NAME', 'VERSION', 'PHASE', 'IP', 'AGE', ...(wide ? ['IMAGE', 'CONTAINER', 'LAST UPGRADE'] : [])];
}

/** One inline app's row of `get apps`. */
export function appRow(a: AppRecord, wide: boolean): string[] {
  return [
    a.name,
    a.status.installedVersion ?? '<none>',
    a.status.phase,
    a.status.ip ?? '<none>',
    age(a.createdAt),
    ...(wide ? [a.status.image ?? '<none>', a.status.containerId?.slice(0, 12) ?? '<none>', lastUpgrade(a)] : []),
  ];
}

function lastUpgrade(a: AppRecord): string {
  const u = a.status.lastUpgrade;
  return u ? `${u.from ?? '∅'}→${u.to} ${u.outcome}${u.error ? ` (${u.error.code})` : ''}` : '<none>';
}

/** One history entry: an operation with its steps. */
export interface HistoryEntry {
  operation: OperationRecord;
  steps: StepRecord[];
}

/** `molt history NAME`. */
export function renderHistory(entries: HistoryEntry[], format: OutputFormat): string {
  if (format === 'json' || format === 'yaml') return structured(historyObjects(entries), format);
  return (
    entries
      .map(({ operation: o, steps }) => {
        const head = `#${o.id} ${o.plan.trigger === 'apply' ? o.kind : 'rollback'} ${o.fromVersion ?? '∅'} → ${o.toVersion}   ${outcome(o)}   ${o.startedAt}${'cause' in o.state ? `\n${hanging('   cause: ', `${o.state.cause.code}: ${o.state.cause.message}`)}` : ''}`;
        const lines = steps.map((s) =>
          hanging(
            `   ${s.rollback ? '↩' : ' '} ${s.name.padEnd(17)} ${s.phase.padEnd(11)} ${duration(s)}  `,
            s.message,
          ),
        );
        return [head, ...lines].join('\n');
      })
      .join('\n\n') + '\n'
  );
}

/**
 * `lead` then `text`, whose further lines (a failed step's "last output:") are indented under
 * its first with a bar, so they stay inside the entry instead of breaking the table.
 */
function hanging(lead: string, text: string): string {
  const [first = '', ...rest] = text.trimEnd().split('\n');
  const pad = ' '.repeat([...lead].length);
  return [lead + first, ...rest.map((l) => `${pad}│ ${l}`)].join('\n');
}

function outcome(o: OperationRecord): string {
  return o.finishedAt ? o.state.phase : `InProgress (${o.state.phase})`;
}

function duration(s: StepRecord): string {
  if (!s.finishedAt) return '    -';
  return `${((Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000).toFixed(1).padStart(5)}s`;
}

/** `molt snapshots NAME`: one row per saved volume. */
export function renderSnapshots(sets: (SnapshotSet & { from?: string; to?: string })[], format: OutputFormat): string {
  if (format === 'json' || format === 'yaml') return structured(sets, format);
  const rows = sets.flatMap((s) =>
    s.entries.map((e) => [
      String(s.operation),
      s.from ?? '<none>',
      s.to ?? '<none>',
      e.volume,
      `${(e.bytes / 1024 / 1024).toFixed(1)} MiB`,
      age(s.createdAt),
      e.file,
    ]),
  );
  return table(['OPERATION', 'FROM', 'TO', 'VOLUME', 'SIZE', 'AGE', 'FILE'], rows);
}
