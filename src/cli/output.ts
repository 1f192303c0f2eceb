/**
 * Rendering for the terminal: aligned tables, JSON and YAML. Data goes to stdout, messages to
 * stderr; nothing here writes by itself.
 */
import { MoltError } from '../core/errors.ts';

/** The `-o` formats. */
export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml';

/** YAML's module, loaded by `outputFormat` for `-o yaml` only (~5 ms of CPU that a table does not need). */
let yaml: typeof import('./yaml-out.ts') | undefined;

/** Parses a `-o` value; throws with the allowed list. For `yaml`, loads what `structured` needs. */
export async function outputFormat(
  value: string,
  allowed: OutputFormat[] = ['table', 'wide', 'json', 'yaml'],
): Promise<OutputFormat> {
  if (!(allowed as string[]).includes(value))
    throw new UsageError(`unknown output format "${value}"`, `Use one of: ${allowed.join(', ')}.`);
  if (value === 'yaml') yaml ??= await import('./yaml-out.ts');
  return value as OutputFormat;
}

/** A wrong command line. */
export class UsageError extends MoltError {
  readonly code = 'Usage';
}

/** Renders rows as a left-aligned table with a header, like kubectl. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** Renders data as JSON or YAML (a format that came from `outputFormat`). */
export function structured(data: unknown, format: 'json' | 'yaml'): string {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  if (!yaml) throw new Error('internal: YAML output without outputFormat("yaml") first');
  return yaml.stringify(data);
}

/** "5m", "3h", "12s" since an ISO time, like kubectl's AGE column. */
export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '<none>';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** Parses durations like 90, 90s, 10m, 1h into seconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(value.trim());
  if (!m)
    throw new UsageError(
      `invalid duration "${value}"`,
      'Use a number of seconds, or a number followed by s, m or h (e.g. 90s, 10m).',
    );
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] ?? 's'] ?? 1);
}
