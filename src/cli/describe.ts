/** What `molt describe app NAME` prints: kubectl-style sections. */
import { stringify } from 'yaml';
import type { RunIntent } from '../core/observed.ts';
import { formatRestart, parseRestart } from '../core/settings.ts';
import type { AppRecord, OperationRecord } from '../store/types.ts';
import { appObject } from './render.ts';
import { table } from './output.ts';

/** Everything describe shows of one app. */
export interface DescribeInput {
  /** The app with its observed status. */
  record: AppRecord;
  intent?: RunIntent;
  lastOperation?: OperationRecord;
  logs?: string;
  tail: number;
}

const field = (label: string, value: string | number | undefined) =>
  `${`${label}:`.padEnd(16)}${value === undefined || value === '' ? '<none>' : value}`;
const indent = (text: string, by = '  ') => text.replace(/\n$/, '').replace(/^/gm, by);

/** Renders the describe text. */
export function renderDescribe(d: DescribeInput): string {
  const { record: r } = d;
  const s = r.status;
  const spec = r.manifest?.spec;
  const c = s.container;
  const lines = [
    field('Name', r.name),
    field(
      'Labels',
      Object.entries(r.manifest?.metadata.labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    ),
    field('Created', r.createdAt),
    field('Package', spec?.package),
    field('Version', s.installedVersion),
    field('Image', s.image ?? spec?.image),
    field('Phase', s.phase),
    field('Wanted', d.intent?.desired === 'stopped' ? `stopped (molt stop at ${d.intent.changedAt})` : 'running'),
    field('IP', s.ip),
    field(
      'Restart Policy',
      spec ? formatRestart(parseRestart(spec.restart) ?? { name: 'unless-stopped', maximumRetryCount: 0 }) : undefined,
    ),
    field('Depends On', spec?.dependsOn?.join(', ')),
    'Container:',
    ...(c
      ? [
          `  ${field('Name', `${c.name} (${c.id.slice(0, 12)})`)}`,
          `  ${field('State', `${c.state}${c.exitCode !== undefined ? ` (exit code ${c.exitCode}${c.reason ? `, ${c.reason}` : ''})` : ''}`)}`,
          `  ${field('Started', c.startedAt)}`,
          ...(c.finishedAt ? [`  ${field('Finished', c.finishedAt)}`] : []),
          ...(c.health ? [`  ${field('Health', c.health)}`] : []),
          `  ${field('Restart Count', s.restartCount)}`,
        ]
      : ['  <none: the engine has no container for this app>']),
    'Conditions:',
    indent(
      table(
        ['TYPE', 'STATUS', 'REASON', 'LAST TRANSITION', 'MESSAGE'],
        s.conditions.map((x) => [x.type, x.status, x.reason, x.lastTransitionTime, x.message]),
      ),
    ),
    'Last Operation:',
    indent(lastOperation(d.lastOperation)),
    'Spec:',
    indent(stringify(appObject(r).spec ?? {})),
    `Last Log Lines (${d.tail}):`,
    indent(d.logs === undefined ? '<no container>' : d.logs.trim() === '' ? '<empty>' : d.logs.trimEnd()),
  ];
  return `${lines.join('\n')}\n`;
}

function lastOperation(o: OperationRecord | undefined): string {
  if (!o) return '<none>';
  const kind = o.plan.trigger === 'apply' ? o.kind : 'rollback';
  const head = `#${o.id} ${kind} ${o.fromVersion ?? '∅'} → ${o.toVersion}   ${o.finishedAt ? o.state.phase : `InProgress (${o.state.phase})`}   started ${o.startedAt}${o.finishedAt ? `, finished ${o.finishedAt}` : ''}`;
  return 'cause' in o.state ? `${head}\ncause: ${o.state.cause.code}: ${o.state.cause.message}` : head;
}
