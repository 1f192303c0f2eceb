/**
 * The CustomResourceDefinitions of molt.dev/v1alpha1 — App (namespaced), Release (cluster
 * scoped catalog) and UpgradeTask (namespaced) — generated from the same zod schemas the local
 * documents are validated with. The schemas are found, not listed: every export of a module in
 * src/core that is (or lazily builds: core/lazy-schema.ts) a zod object with `kind: z.literal(K)`
 * and a `spec` contributes to the CRD of kind K, so a new variant (an App that runs a Release)
 * or a new field shows up in the CRD by regenerating (`node scripts/gen-crds.ts`). Several variants of one kind are merged into
 * one structural schema; which variant an object is, and every refinement, is checked by zod
 * when the operator reconciles it.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { stringify } from 'yaml';
import * as z from 'zod';
import { isLazySchema } from '../../core/lazy-schema.ts';
import { jsonSchemaOf, mergeObjects, toStructural, type SchemaNode } from './openapi.ts';
import { appStatusSchema, releaseStatusSchema, upgradeTaskStatusSchema } from './status.ts';

/** The API group and version of molt's resources. */
export const GROUP = 'molt.dev';
export const VERSION = 'v1alpha1';

/** A printer column (`kubectl get`). priority 1: only with `-o wide`. */
interface Column {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean';
  jsonPath: string;
  priority?: number;
  description?: string;
}

/** What one CRD looks like besides its schema. */
interface KindInfo {
  kind: string;
  plural: string;
  singular: string;
  scope: 'Namespaced' | 'Cluster';
  shortNames: string[];
  description: string;
  status: z.ZodType;
  columns: Column[];
}

const AGE: Column = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

/** molt's kinds on Kubernetes. */
export const KINDS: readonly KindInfo[] = [
  {
    kind: 'App',
    plural: 'apps',
    singular: 'app',
    scope: 'Namespaced',
    shortNames: ['mapp'],
    status: appStatusSchema,
    description:
      'A stateful app molt installs and upgrades: one container inline (spec.image) or the roles of a Release.',
    columns: [
      { name: 'Version', type: 'string', jsonPath: '.status.installedVersion', description: 'the installed version' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      AGE,
      {
        name: 'Desired',
        type: 'string',
        jsonPath: '.spec.version',
        priority: 1,
        description: 'spec.version of an inline app',
      },
      { name: 'Release', type: 'string', jsonPath: '.spec.release', priority: 1 },
      { name: 'Image', type: 'string', jsonPath: '.status.image', priority: 1 },
      { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
    ],
  },
  {
    kind: 'Release',
    plural: 'releases',
    singular: 'release',
    scope: 'Cluster',
    shortNames: ['mrel'],
    status: releaseStatusSchema,
    description:
      'One version of a package as its vendor publishes it: the images and settings of its roles (a cluster-wide catalog).',
    columns: [
      { name: 'Package', type: 'string', jsonPath: '.spec.package' },
      { name: 'Version', type: 'string', jsonPath: '.spec.version' },
      { name: 'Upgradable', type: 'boolean', jsonPath: '.spec.upgradable' },
      AGE,
    ],
  },
  {
    kind: 'UpgradeTask',
    plural: 'upgradetasks',
    singular: 'upgradetask',
    scope: 'Namespaced',
    shortNames: ['mut'],
    status: upgradeTaskStatusSchema,
    description: 'An auditable upgrade of the apps a target selects, run as a Job (seed 004).',
    columns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'To', type: 'string', jsonPath: '.spec.toVersion' },
      { name: 'Done', type: 'integer', jsonPath: '.status.counts.done' },
      { name: 'Failed', type: 'integer', jsonPath: '.status.counts.failed' },
      AGE,
      { name: 'Job', type: 'string', jsonPath: '.status.job', priority: 1 },
    ],
  },
];

/** A zod document schema found in src/core, with where it came from. */
export interface FoundDocument {
  kind: string;
  source: string;
  spec: z.ZodType;
}

const CORE_DIR = fileURLToPath(new URL('../../core/', import.meta.url));

/** Every document schema exported by the modules of src/core, in file and export order. */
export async function findDocumentSchemas(coreDir = CORE_DIR): Promise<FoundDocument[]> {
  const files = readdirSync(coreDir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'testing.ts')
    .sort();
  const found: FoundDocument[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(coreDir, file)).href)) as Record<string, unknown>;
    for (const [name, exported] of Object.entries(mod).sort(([a], [b]) => a.localeCompare(b))) {
      const value = isLazySchema(exported) ? exported() : exported;
      if (!(value instanceof z.ZodObject)) continue;
      const shape = value.shape as Record<string, z.ZodType>;
      const kind = shape['kind'];
      if (!(kind instanceof z.ZodLiteral) || !shape['spec']) continue;
      found.push({ kind: String(kind.value), source: `src/core/${file}#${name}`, spec: shape['spec'] });
    }
  }
  return found;
}

/** The structural schema of a kind's spec: its one variant, or all variants merged. */
export function specSchema(docs: FoundDocument[]): SchemaNode {
  if (docs.length === 0) return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const variants = docs.map((d) => toStructural(jsonSchemaOf(d.spec)));
  return variants.length === 1 ? (variants[0] as SchemaNode) : mergeObjects(variants, false);
}

/** The CRD object of one kind. */
export function crdOf(info: KindInfo, docs: FoundDocument[]): SchemaNode {
  const spec = specSchema(docs.filter((d) => d.kind === info.kind));
  const status = toStructural(jsonSchemaOf(info.status));
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${info.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'molt' } },
    spec: {
      group: GROUP,
      scope: info.scope,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        shortNames: info.shortNames,
        categories: ['molt'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: info.columns,
          schema: {
            openAPIV3Schema: {
              description: info.description,
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec,
                status,
              },
            },
          },
        },
      ],
    },
  };
}

/** The generated files: file name → YAML text. */
export async function renderCrds(): Promise<Map<string, string>> {
  const docs = await findDocumentSchemas();
  const files = new Map<string, string>();
  for (const info of KINDS) {
    const sources = docs.filter((d) => d.kind === info.kind).map((d) => d.source);
    const header = [
      '# Generated by scripts/gen-crds.ts — do not edit; run `node scripts/gen-crds.ts` after changing a schema.',
      `# spec from: ${sources.join(', ') || '(no schema in src/core yet: any fields are kept)'}`,
      '# status from: src/operator/crd/status.ts',
    ].join('\n');
    files.set(`${info.plural}.${GROUP}.yaml`, `${header}\n${stringify(crdOf(info, docs), { lineWidth: 0 })}`);
  }
  return files;
}
