/**
 * From zod to a Kubernetes structural OpenAPI v3 schema: zod 4's `z.toJSONSchema` gives JSON
 * Schema (draft 2020-12); this module rewrites it into what the API server accepts for a CRD:
 * every node has a type, no `$ref`, `const` → `enum`, numeric `exclusiveMinimum` → the
 * boolean form, no `additionalProperties: false` (unknown fields are pruned anyway; molt's
 * strict validation at reconcile names them), no `propertyNames`, unions of objects merged
 * into one object (their fields validated at reconcile), unions of numbers and strings as
 * `x-kubernetes-int-or-string`. `x-kubernetes-preserve-unknown-fields` only where a schema
 * really allows anything. Rules that JSON Schema cannot express (refinements) stay in zod.
 */
import * as z from 'zod';

/** A JSON Schema or OpenAPI node (loosely typed: both are plain JSON). */
export type SchemaNode = { [key: string]: unknown };

/** Formats the API server knows; others are dropped (zod emits e.g. "starts_with"). */
const KNOWN_FORMATS = new Set([
  'date-time',
  'date',
  'int32',
  'int64',
  'float',
  'double',
  'byte',
  'uri',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'uuid',
]);
/** Keywords copied as they are when present. */
const KEPT = [
  'description',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'enum',
  'nullable',
] as const;

/** The JSON Schema of a zod schema as its input (fields with defaults optional). */
export function jsonSchemaOf(schema: z.ZodType): SchemaNode {
  return z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    reused: 'inline',
    cycles: 'throw',
  }) as SchemaNode;
}

/** Converts a JSON Schema node into a structural OpenAPI v3 node. */
export function toStructural(
  node: SchemaNode,
  defs: Record<string, SchemaNode> = (node['$defs'] as Record<string, SchemaNode>) ?? {},
): SchemaNode {
  if (typeof node['$ref'] === 'string') {
    const target = defs[node['$ref'].replace(/^#\/\$defs\//, '')];
    if (!target) throw new Error(`unresolvable $ref ${node['$ref']}`);
    return toStructural({ ...target, ...withoutKeys(node, ['$ref']) }, defs);
  }
  if (Array.isArray(node['type'])) {
    const rest = withoutKeys(node, ['type']);
    return toStructural({ ...rest, anyOf: (node['type'] as string[]).map((type) => ({ type })) }, defs);
  }
  const variants = (node['anyOf'] ?? node['oneOf']) as SchemaNode[] | undefined;
  if (variants)
    return unionOf(
      variants.map((v) => toStructural(v, defs)),
      node,
    );
  if (Array.isArray(node['allOf']))
    return mergeObjects(
      (node['allOf'] as SchemaNode[]).map((v) => toStructural(v, defs)),
      true,
    );
  const out: SchemaNode = {};
  for (const k of KEPT) if (node[k] !== undefined) out[k] = node[k];
  if (node['const'] !== undefined) out['enum'] = [node['const']];
  if (typeof node['format'] === 'string' && KNOWN_FORMATS.has(node['format'])) {
    out['format'] = node['format'];
    delete out['pattern']; // the format says it; zod's date-time pattern is only noise
  }
  // z.number().int() bounds itself to the safe integers: say nothing instead.
  if (out['minimum'] === Number.MIN_SAFE_INTEGER) delete out['minimum'];
  if (out['maximum'] === Number.MAX_SAFE_INTEGER) delete out['maximum'];
  if (typeof node['exclusiveMinimum'] === 'number')
    Object.assign(out, { minimum: node['exclusiveMinimum'], exclusiveMinimum: true });
  if (typeof node['exclusiveMaximum'] === 'number')
    Object.assign(out, { maximum: node['exclusiveMaximum'], exclusiveMaximum: true });
  const type = typeOf(node);
  if (type === 'object') Object.assign(out, objectOf(node, defs));
  else if (type === 'array')
    Object.assign(out, {
      type,
      items: node['items']
        ? toStructural(node['items'] as SchemaNode, defs)
        : { 'x-kubernetes-preserve-unknown-fields': true },
    });
  else if (type) out['type'] = type;
  else return { ...out, 'x-kubernetes-preserve-unknown-fields': true };
  if (node['default'] !== undefined) out['default'] = node['default'];
  return orderKeys(out);
}

function typeOf(node: SchemaNode): string | undefined {
  if (typeof node['type'] === 'string') return node['type'];
  if (node['properties'] || node['additionalProperties']) return 'object';
  if (node['const'] !== undefined) return typeof node['const'] === 'number' ? 'number' : typeof node['const'];
  if (Array.isArray(node['enum']) && node['enum'].every((e) => typeof e === 'string')) return 'string';
  return undefined;
}

function objectOf(node: SchemaNode, defs: Record<string, SchemaNode>): SchemaNode {
  const props = node['properties'] as Record<string, SchemaNode> | undefined;
  const extra = node['additionalProperties'];
  const out: SchemaNode = { type: 'object' };
  if (props) {
    out['properties'] = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, toStructural(v, defs)]));
    const required = (node['required'] as string[] | undefined) ?? [];
    if (required.length) out['required'] = required;
  } else if (extra && typeof extra === 'object') {
    out['additionalProperties'] = toStructural(extra as SchemaNode, defs);
  } else {
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  return out;
}

/** A union: numbers and strings → int-or-string; objects → one object with every field. */
function unionOf(variants: SchemaNode[], node: SchemaNode): SchemaNode {
  const nonNull = variants.filter((v) => v['type'] !== 'null');
  const extra: SchemaNode = nonNull.length < variants.length ? { nullable: true } : {};
  if (node['description']) extra['description'] = node['description'];
  if (node['default'] !== undefined) extra['default'] = node['default'];
  if (nonNull.length === 1) return { ...nonNull[0], ...extra };
  const types = new Set(nonNull.map((v) => v['type']));
  if ([...types].every((t) => t === 'string' || t === 'number' || t === 'integer')) {
    return { 'x-kubernetes-int-or-string': true, ...extra };
  }
  if ([...types].every((t) => t === 'object')) return { ...mergeObjects(nonNull, false), ...extra };
  return { 'x-kubernetes-preserve-unknown-fields': true, ...extra };
}

/**
 * Merges object schemas into one with the fields of all. `intersection` (allOf): every
 * required field stays required; otherwise (a union) only fields every variant requires, and
 * a field that not every variant has loses its default (the API server would add it to
 * objects of the other variants).
 */
export function mergeObjects(variants: SchemaNode[], intersection: boolean): SchemaNode {
  const props: Record<string, SchemaNode> = {};
  const seen = new Map<string, number>();
  for (const v of variants) {
    for (const [k, p] of Object.entries((v['properties'] as Record<string, SchemaNode>) ?? {})) {
      seen.set(k, (seen.get(k) ?? 0) + 1);
      const prev = props[k];
      props[k] = prev === undefined ? p : mergeProperty(prev, p);
    }
  }
  if (!intersection) {
    for (const [k, n] of seen) if (n < variants.length) props[k] = withoutKeys(props[k] ?? {}, ['default']);
  }
  const requiredSets = variants.map((v) => new Set((v['required'] as string[]) ?? []));
  const required = intersection
    ? [...new Set(requiredSets.flatMap((s) => [...s]))]
    : [...(requiredSets[0] ?? [])].filter((r) => requiredSets.every((s) => s.has(r)));
  const out: SchemaNode = { type: 'object', properties: props };
  if (required.length) out['required'] = required;
  const description = variants.map((v) => v['description']).find((d) => typeof d === 'string');
  if (description) out['description'] = description;
  return out;
}

function mergeProperty(a: SchemaNode, b: SchemaNode): SchemaNode {
  if (JSON.stringify(a) === JSON.stringify(b)) return a;
  if (a['type'] === 'object' && b['type'] === 'object' && a['properties'] && b['properties'])
    return mergeObjects([a, b], false);
  if (a['type'] === 'array' && b['type'] === 'array' && a['items'] && b['items']) {
    return {
      ...withoutKeys(a, ['default', 'minItems']),
      items: mergeProperty(a['items'] as SchemaNode, b['items'] as SchemaNode),
    };
  }
  return { 'x-kubernetes-preserve-unknown-fields': true };
}

function withoutKeys(node: SchemaNode, keys: string[]): SchemaNode {
  return Object.fromEntries(Object.entries(node).filter(([k]) => !keys.includes(k)));
}

const ORDER = [
  'description',
  'type',
  'format',
  'enum',
  'nullable',
  'default',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
  'required',
  'properties',
  'additionalProperties',
  'items',
];

function orderKeys(node: SchemaNode): SchemaNode {
  const rank = (k: string) => (ORDER.includes(k) ? ORDER.indexOf(k) : ORDER.length);
  return Object.fromEntries(Object.entries(node).sort(([a], [b]) => rank(a) - rank(b)));
}

/** Problems that make a schema non-structural or that the API server refuses; empty when fine. */
export function structuralProblems(node: SchemaNode, path = ''): string[] {
  const problems: string[] = [];
  for (const bad of ['$ref', '$schema', '$defs', 'const', 'propertyNames', 'prefixItems', 'anyOf', 'oneOf', 'allOf']) {
    if (node[bad] !== undefined) problems.push(`${path || '/'}: ${bad}`);
  }
  if (node['additionalProperties'] === false) problems.push(`${path || '/'}: additionalProperties: false`);
  if (node['properties'] && node['additionalProperties'])
    problems.push(`${path || '/'}: properties with additionalProperties`);
  const typed =
    node['type'] !== undefined || node['x-kubernetes-int-or-string'] || node['x-kubernetes-preserve-unknown-fields'];
  if (!typed) problems.push(`${path || '/'}: no type`);
  for (const [k, v] of Object.entries((node['properties'] as Record<string, SchemaNode>) ?? {}))
    problems.push(...structuralProblems(v, `${path}.${k}`));
  if (node['items'] && typeof node['items'] === 'object')
    problems.push(...structuralProblems(node['items'] as SchemaNode, `${path}[]`));
  if (node['additionalProperties'] && typeof node['additionalProperties'] === 'object')
    problems.push(...structuralProblems(node['additionalProperties'] as SchemaNode, `${path}{}`));
  return problems;
}
