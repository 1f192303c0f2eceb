/**
 * Comparing two specs field by field for `plan` and `apply`: which container-shaping fields
 * changed, compared by what they mean (a port in short or long form, `restart` absent or
 * `unless-stopped`), and a one-line `field: old → new` for each. Pure.
 */
import type { AppSpec } from './model.ts';
import {
  DEFAULT_RESTART,
  formatPort,
  formatRestart,
  parseRestart,
  portBindings,
  SETTINGS_FIELDS,
  type SettingsField,
} from './settings.ts';

/** Settings fields that do not shape the container: a bind mount is a volume, the others order and watch. */
const NOT_SHAPING = ['hostPath', 'dependsOn', 'monitorSeconds'] as const;
type ShapingSetting = Exclude<SettingsField, (typeof NOT_SHAPING)[number]>;

/** The settings that shape the container (a change replaces it): every settings field but NOT_SHAPING. */
export const SHAPING_SETTINGS: readonly ShapingSetting[] = SETTINGS_FIELDS.filter(
  (f): f is ShapingSetting => !(NOT_SHAPING as readonly string[]).includes(f),
);

/** The value of field `f` as compared: what it means, not how it was written. */
export function comparable(f: keyof AppSpec, spec: AppSpec): unknown {
  if (f === 'restart')
    return formatRestart(
      parseRestart(spec.restart ?? DEFAULT_RESTART) ?? { name: DEFAULT_RESTART, maximumRetryCount: 0 },
    );
  if (f === 'ports') return portBindings(spec.ports).map(formatPort);
  if (f === 'stopSignal') return spec.stopSignal?.toUpperCase().replace(/^(?!SIG)/, 'SIG');
  const value = spec[f];
  if (
    value === undefined ||
    (Array.isArray(value) && value.length === 0) ||
    (f === 'containerLabels' && Object.keys(value).length === 0)
  )
    return undefined;
  return value;
}

/** The diff line of env or secret files whose content changed under the same paths (values never shown). */
export const INPUTS_CHANGED = 'envFrom/secrets: file contents changed (values not shown)';

/** `field: old → new`, each side as compact JSON ("(none)" when absent). */
export function fieldDiff(f: keyof AppSpec, before: AppSpec, after: AppSpec): string {
  if (f === 'env') return envDiff(before.env, after.env);
  const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v).replace(/,/g, ', '));
  return `${f}: ${show(comparable(f, before))} → ${show(comparable(f, after))}`;
}

/**
 * An env change by variable name only: env values may be passwords and never show in molt's
 * progress, plans or history (`get app -o json` shows the spec, as kubectl does).
 */
function envDiff(before: Record<string, string>, after: Record<string, string>): string {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changes = names.flatMap((k) =>
    !(k in before) ? [`+${k}`] : !(k in after) ? [`-${k}`] : before[k] !== after[k] ? [`~${k}`] : [],
  );
  return `env: ${changes.join(', ')} (values not shown)`;
}
