/**
 * Label selectors over apps, with Kubernetes semantics: `matchLabels` (key = value) and
 * `matchExpressions` (In, NotIn, Exists, DoesNotExist); every requirement must hold. As in
 * Kubernetes, `NotIn` also matches apps that lack the key. Pure.
 */

/** One requirement of a selector's `matchExpressions`. */
export interface SelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  /** Non-empty for In and NotIn; empty for Exists and DoesNotExist. */
  values: string[];
}

/** A label selector: all of its labels and expressions must match. */
export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: SelectorRequirement[];
}

/** True when `labels` satisfy every requirement of `selector`. */
export function matchesSelector(labels: Record<string, string>, selector: LabelSelector): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    if (labels[key] !== value) return false;
  }
  return selector.matchExpressions.every((r) => matchesRequirement(labels, r));
}

function matchesRequirement(labels: Record<string, string>, r: SelectorRequirement): boolean {
  const has = Object.hasOwn(labels, r.key);
  switch (r.operator) {
    case 'In':
      return has && r.values.includes(labels[r.key] ?? '');
    case 'NotIn':
      return !has || !r.values.includes(labels[r.key] ?? '');
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

/** The selector in kubectl's string form, e.g. `tier=db,env in (prod,stage),!legacy`. */
export function formatSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const r of selector.matchExpressions) {
    if (r.operator === 'In') parts.push(`${r.key} in (${r.values.join(',')})`);
    else if (r.operator === 'NotIn') parts.push(`${r.key} notin (${r.values.join(',')})`);
    else if (r.operator === 'Exists') parts.push(r.key);
    else parts.push(`!${r.key}`);
  }
  return parts.join(',');
}

/** True when the selector has no requirement at all (it would match every app). */
export function isEmptySelector(selector: LabelSelector): boolean {
  return Object.keys(selector.matchLabels).length === 0 && selector.matchExpressions.length === 0;
}
