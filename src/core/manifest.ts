/**
 * Reading manifests: YAML text → validated, typed documents, or an InvalidInputError whose
 * every problem names file:line:column and the field. Pure: the caller reads the file.
 */
import { isMap, isSeq, LineCounter, parseAllDocuments, visit, type Document, type Node } from 'yaml';
import { dirname } from 'node:path';
import { problemOffset } from './yaml-errors.ts';
import { resolveSettingFiles, type ContainerSettings } from './settings.ts';
import type * as z from 'zod';
import { InvalidInputError, type InputProblem } from './errors.ts';
import type { AppManifest, AppSpec } from './model.ts';
import { localOnlyFields, type LocalOnlyField } from './local-only.ts';
import { API_VERSION, appDocumentFor, dashedAppName, dnsName } from './schema.ts';
import type { InventoryManifest, UpgradeTaskManifest } from './task.ts';
import { inventoryDocument, upgradeTaskDocument } from './task-schema.ts';
import {
  releaseAppDocument,
  releaseDocument,
  type ReleaseAppManifest,
  type ReleaseManifest,
} from './release-schema.ts';

/** The largest manifest file molt reads. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/** Where a document came from, and the cluster namespace it names (only when the caller allows namespaces). */
interface Origin {
  file: string;
  line: number;
  column?: number;
  namespace?: { name: string; line?: number; column?: number };
  /** The line and column of a field of the document (path from its root), as near as exists. */
  locate?: (path: (string | number)[]) => { line?: number; column?: number };
}

/** One validated document and where it came from. */
export type ManifestDocument = Origin &
  (
    | { kind: 'App'; manifest: AppManifest }
    | { kind: 'ReleaseApp'; manifest: ReleaseAppManifest }
    | { kind: 'Release'; manifest: ReleaseManifest }
    | { kind: 'UpgradeTask'; manifest: UpgradeTaskManifest }
    | { kind: 'Inventory'; manifest: InventoryManifest }
  );

/** How to read a manifest. */
export interface ParseOptions {
  /**
   * Accept `metadata.namespace` (commands acting on a cluster: it says where the object goes,
   * as with kubectl). Locally there are no namespaces and the field is refused.
   */
  namespaces?: boolean;
  /** The documents go to a cluster: settings only the local engine has are refused at their line. */
  cluster?: boolean;
}

/** A document kind molt knows. */
export type ManifestKind = ManifestDocument['kind'];
/** The validated document of one kind. */
export type DocumentOf<K extends ManifestKind> = Extract<ManifestDocument, { kind: K }>;

type Schema = z.ZodType<unknown>;

/** The schema of each document kind molt knows, for one document. More kinds register here. */
const KINDS: Record<string, (doc: unknown) => Schema> = {
  App: appDocumentFor,
  Release: releaseDocument,
  UpgradeTask: upgradeTaskDocument,
  Inventory: inventoryDocument,
};
/** The command that takes each kind, for documents given to another command. */
const APPLIED_WITH: Record<string, string> = {
  App: 'molt apply -f',
  Release: 'molt apply -f',
  UpgradeTask: 'molt task apply -f',
  Inventory: 'molt task apply -f',
};

/** Parses and validates every document in a manifest file's text; kinds other than `accept` are problems. */
export function parseManifests<K extends ManifestKind = 'App'>(
  text: string,
  file: string,
  accept: readonly K[] = ['App' as K],
  options: ParseOptions = {},
): DocumentOf<K>[] {
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES) {
    throw new InvalidInputError(
      [{ file, message: `the file is larger than ${MAX_MANIFEST_BYTES} bytes` }],
      'Split it into smaller files.',
    );
  }
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (!Array.isArray(docs)) throw new InvalidInputError([{ file, message: 'not a YAML stream' }]);
  const problems: InputProblem[] = [];
  const result: ManifestDocument[] = [];
  for (const doc of docs) {
    const before = problems.length;
    for (const e of [...doc.errors, ...doc.warnings.filter((w) => w.code === 'DUPLICATE_KEY')]) {
      const pos = lines.linePos(problemOffset(text, e));
      problems.push({ file, line: pos.line, column: pos.col, message: `YAML: ${firstLine(e.message)}` });
    }
    if (problems.length > before || doc.contents === null) continue;
    const validated = validateDocument(doc, file, lines, problems, accept, options);
    if (validated) result.push(validated);
  }
  problems.push(...duplicateNames(result));
  if (problems.length > 0)
    throw new InvalidInputError(
      problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)),
      appNameHint(problems),
    );
  if (result.length === 0)
    throw new InvalidInputError(
      [{ file, message: 'no documents found' }],
      'Put at least one document (e.g. kind: App) in the file.',
    );
  return result as DocumentOf<K>[];
}

function validateDocument(
  doc: Document,
  file: string,
  lines: LineCounter,
  problems: InputProblem[],
  accept: readonly string[],
  options: ParseOptions,
): ManifestDocument | undefined {
  const at = (path: (string | number)[], key?: string): InputProblem => ({
    file,
    ...position(doc, lines, path, key),
    field: formatPath(key === undefined ? path : [...path, key]),
    message: '',
  });
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    problems.push(aliasProblem(doc, lines, file, e));
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push({ ...at([]), message: 'a document must be a mapping with apiVersion, kind, metadata and spec' });
    return undefined;
  }
  const record = value as Record<string, unknown>;
  if (record.apiVersion !== API_VERSION) {
    problems.push({
      ...at(['apiVersion']),
      field: 'apiVersion',
      message: `must be ${API_VERSION} (got ${JSON.stringify(record.apiVersion ?? null)})`,
    });
    return undefined;
  }
  const kind = typeof record.kind === 'string' ? record.kind : '';
  const schemaFor = KINDS[kind];
  if (!schemaFor) {
    problems.push({
      ...at(['kind']),
      field: 'kind',
      message: `unknown kind ${JSON.stringify(record.kind ?? null)}; known kinds: ${Object.keys(KINDS).join(', ')}`,
    });
    return undefined;
  }
  if (!accept.includes(kind)) {
    problems.push({
      ...at(['kind']),
      field: 'kind',
      message: `kind ${kind} is not taken by this command; apply it with \`${APPLIED_WITH[kind]}\``,
    });
    return undefined;
  }
  const namespace = takeNamespace(record, at(['metadata'], 'namespace'), problems, options);
  // An App either runs an inline container (spec.image…) or a Release (spec.release + roles).
  const runsRelease =
    kind === 'App' && typeof record.spec === 'object' && record.spec !== null && 'release' in record.spec;
  const input = namespace ? namespace.rest : value;
  const parsed = (runsRelease ? releaseAppDocument() : schemaFor(input)).safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push({ ...at(path, key), message: `unknown field "${key}"` });
      } else if (issue.code === 'invalid_key') {
        // A bad map key (e.g. an env name): point at the key, with the key schema's own words.
        const key = String(path.at(-1));
        problems.push({
          ...at(path.slice(0, -1), key),
          message: `"${key}": ${issue.issues[0]?.message ?? issue.message}`,
        });
      } else {
        problems.push({
          ...at(path),
          message:
            issue.message + (kind === 'App' && formatPath(path) === 'metadata.name' ? dashedSuggestion(record) : ''),
        });
      }
    }
    return undefined;
  }
  if (options.cluster) {
    const before = problems.length;
    for (const f of clusterRefusals(parsed.data)) problems.push({ ...at(f.path), message: f.message });
    if (problems.length > before) return undefined;
  }
  const line = lines.linePos(doc.contents?.range?.[0] ?? 0).line;
  const nameAt = position(doc, lines, ['metadata'], 'name');
  const where =
    namespace?.name === undefined
      ? {}
      : { namespace: { name: namespace.name, line: namespace.at.line, column: namespace.at.column } };
  const locate = (path: (string | number)[]) => position(doc, lines, path);
  return {
    kind: runsRelease ? 'ReleaseApp' : kind,
    file,
    line: nameAt.line ?? line,
    column: nameAt.column,
    manifest: withFilesResolved(parsed.data, file),
    locate,
    ...where,
  } as ManifestDocument;
}

/**
 * Splits `metadata.namespace` off the document (the schemas describe the object, not where it
 * goes): a valid DNS label where namespaces are allowed, else a problem at the field.
 */
function takeNamespace(
  record: Record<string, unknown>,
  at: InputProblem,
  problems: InputProblem[],
  options: ParseOptions,
): { name?: string; at: InputProblem; rest: unknown } | undefined {
  const metadata = record.metadata;
  if (typeof metadata !== 'object' || metadata === null || !('namespace' in metadata)) return undefined;
  const { namespace, ...others } = metadata as Record<string, unknown>;
  const rest = { ...record, metadata: others };
  if (!options.namespaces) {
    problems.push({
      ...at,
      message:
        'namespaces exist only on a cluster: remove it here, or apply the file to a cluster (--kubeconfig/--context)',
    });
    return { at, rest };
  }
  const checked = dnsName.safeParse(namespace);
  if (!checked.success) {
    problems.push({ ...at, message: checked.error.issues[0]?.message ?? 'must be a DNS label' });
    return { at, rest };
  }
  return { name: checked.data, at, rest };
}

/** The local-only settings of an inline App or of a Release's roles, with their paths from the document root. */
function clusterRefusals(manifest: unknown): LocalOnlyField[] {
  const m = manifest as { kind: string; spec: Record<string, unknown> & { roles?: unknown[] } };
  if ('image' in m.spec)
    return localOnlyFields(m.spec as Partial<AppSpec>).map((f) => ({ ...f, path: ['spec', ...f.path] }));
  if (m.kind !== 'Release' || !Array.isArray(m.spec.roles)) return [];
  return m.spec.roles.flatMap((r, i) =>
    localOnlyFields(r as Partial<AppSpec>).map((f) => ({ ...f, path: ['spec', 'roles', i, ...f.path] })),
  );
}

/** envFrom and secret files are relative to the manifest's directory (stdin: the working directory). */
function withFilesResolved(manifest: unknown, file: string): unknown {
  const base = file === '-' ? '.' : dirname(file);
  const m = manifest as { kind: string; spec: Record<string, unknown> & { roles?: unknown[] } };
  if ('image' in m.spec) return { ...m, spec: resolveSettingFiles(m.spec as ContainerSettings, base) };
  if (m.kind === 'Release' && Array.isArray(m.spec.roles))
    return {
      ...m,
      spec: { ...m.spec, roles: m.spec.roles.map((r) => resolveSettingFiles(r as ContainerSettings, base)) },
    };
  return manifest;
}

/** `; try "kv-2-0-0"` for an App name a dashed form would make valid (dots become "-"). */
function dashedSuggestion(record: Record<string, unknown>): string {
  const name = (record.metadata as { name?: unknown } | undefined)?.name;
  const dashed = typeof name === 'string' ? dashedAppName(name) : undefined;
  return dashed ? `; try "${dashed}"` : '';
}

/** The hint of an error that refuses an App name, with the dashed form it suggests; else the usual hint. */
function appNameHint(problems: InputProblem[]): string | undefined {
  const refused = problems.find((p) => p.field === 'metadata.name' && p.message.includes("an App's name"));
  if (!refused) return undefined;
  const dashed = /; try "([^"]+)"$/.exec(refused.message)?.[1];
  return `App names are DNS labels because they name containers and their DNS names${dashed ? `: use "${dashed}" (dots and other characters become "-")` : ''}. Release names may contain dots (kvstore-2.0.0-1).`;
}

/** The line and column of the node at `path` (or of the key `key` inside it), as near as exists. */
function position(
  doc: Document,
  lines: LineCounter,
  path: (string | number)[],
  key?: string,
): { line?: number; column?: number } {
  let node: unknown = doc.contents;
  let offset = doc.contents?.range?.[0];
  for (const segment of key === undefined ? path : [...path, key]) {
    const isLast = segment === key && key !== undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === segment);
      if (!pair) break;
      const target = (isLast ? pair.key : (pair.value ?? pair.key)) as Node | null;
      offset = target?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  if (offset === undefined) return {};
  const pos = lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

function formatPath(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function duplicateNames(docs: ManifestDocument[]): InputProblem[] {
  const seen = new Map<string, ManifestDocument>();
  const problems: InputProblem[] = [];
  for (const d of docs) {
    const key = `${d.kind}/${d.manifest.metadata.name}`;
    const first = seen.get(key);
    if (first)
      problems.push({
        file: d.file,
        line: d.line,
        column: d.column,
        field: 'metadata.name',
        message: `${key} is defined twice (first at line ${first.line})`,
      });
    else seen.set(key, d);
  }
  return problems;
}

/** An alias that cannot be expanded (undefined anchor, or an alias bomb) as a problem with its place. */
function aliasProblem(doc: Document, lines: LineCounter, file: string, error: unknown): InputProblem {
  let offset: number | undefined;
  let first: number | undefined;
  visit(doc, {
    Alias(_, node) {
      first ??= node.range?.[0];
      if (offset === undefined && node.resolve(doc) === undefined) offset = node.range?.[0];
    },
  });
  offset ??= first;
  const pos = offset === undefined ? undefined : lines.linePos(offset);
  const reason = /excessive alias count/i.test(String(error))
    ? 'too many alias expansions (an alias bomb?); at most 100 are allowed'
    : `an alias refers to an anchor that is not defined before it (${firstLine(String((error as Error).message ?? error))})`;
  return { file, ...(pos ? { line: pos.line, column: pos.col } : {}), message: `YAML: ${reason}` };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
