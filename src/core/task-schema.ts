/**
 * The schemas of the UpgradeTask and Inventory documents (zod 4, strict like the App's): one
 * definition gives validation at the edge, the defaults and the error messages with field
 * paths. Shapes match `task.ts`; `_shapeCheck` below keeps them in step at compile time.
 */
import * as z from 'zod';
import { API_VERSION, dnsName, metadata, releaseName, versionString } from './schema.ts';
import { isEmptySelector } from './selector.ts';
import { lazySchema } from './lazy-schema.ts';
import {
  DEFAULT_IMAGE_TEMPLATE,
  durationSeconds,
  IMAGE_PLACEHOLDERS,
  type InventoryManifest,
  type UpgradeTaskManifest,
} from './task.ts';

const LABEL_KEY = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

const labelKey = lazySchema(() => z.string().regex(LABEL_KEY, 'must be a label key such as tier or example.com/tier'));
const labelValue = lazySchema(() =>
  z
    .string()
    .regex(
      LABEL_VALUE,
      'must be a label value: at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit',
    ),
);

const requirement = lazySchema(() =>
  z
    .strictObject({
      key: labelKey(),
      operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist'], {
        error: 'must be In, NotIn, Exists or DoesNotExist',
      }),
      values: z.array(labelValue()).default([]),
    })
    .superRefine((r, ctx) => {
      const needsValues = r.operator === 'In' || r.operator === 'NotIn';
      if (needsValues && r.values.length === 0)
        ctx.addIssue({ code: 'custom', path: ['values'], message: `${r.operator} needs at least one value` });
      if (!needsValues && r.values.length > 0)
        ctx.addIssue({ code: 'custom', path: ['values'], message: `${r.operator} takes no values` });
    }),
);

const selector = lazySchema(() =>
  z
    .strictObject({
      matchLabels: z.record(labelKey(), labelValue()).default({}),
      matchExpressions: z.array(requirement()).default([]),
    })
    .refine((s) => !isEmptySelector(s), {
      message:
        'an empty selector would select every app: give matchLabels or matchExpressions (e.g. {key: tier, operator: Exists})',
    }),
);

const target = lazySchema(() =>
  z
    .strictObject({
      app: dnsName.optional(),
      selector: selector().optional(),
      role: dnsName.optional(),
      member: dnsName.optional(),
    })
    .refine((t) => (t.app === undefined) !== (t.selector === undefined), {
      message: 'set exactly one of app or selector',
    })
    .refine((t) => t.role === undefined || t.member === undefined, {
      message: 'set at most one of role or member',
      path: ['member'],
    }),
);

const duration = lazySchema(() =>
  z.union([z.number(), z.string()]).refine((v) => durationSeconds(v) !== undefined, {
    message: 'must be a positive duration: seconds, or a number followed by s, m or h (e.g. 90s, 10m)',
  }),
);

const options = lazySchema(() =>
  z.strictObject({
    timeout: duration().default('10m'),
    retries: z.number().int().min(0).max(100).default(0),
    concurrency: z.number().int().min(1).max(256).default(1),
    maxFailureRatio: z.number().min(0).max(1).default(0),
  }),
);

const imageTemplate = lazySchema(() =>
  z
    .string()
    .min(1)
    .refine(
      (t) => [...t.matchAll(/\{(\w*)\}/g)].every((m) => (IMAGE_PLACEHOLDERS as readonly string[]).includes(m[1] ?? '')),
      {
        message: `unknown placeholder; use ${IMAGE_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
      },
    )
    .refine((t) => t.includes('{version}') || !t.includes('{'), {
      message: 'a template with placeholders must use {version}',
    }),
);

const taskSpec = lazySchema(() =>
  z
    .strictObject({
      target: target(),
      inventory: dnsName.optional(),
      fromVersion: versionString.optional(),
      toVersion: versionString.optional(),
      toRelease: releaseName.optional(),
      imageTemplate: imageTemplate().default(DEFAULT_IMAGE_TEMPLATE),
      options: options().prefault({}),
    })
    .refine((s) => (s.toVersion === undefined) !== (s.toRelease === undefined), {
      message: 'set exactly one of toVersion or toRelease',
    })
    .refine((s) => s.fromVersion === undefined || s.fromVersion !== s.toVersion, {
      message: 'fromVersion and toVersion are the same',
      path: ['fromVersion'],
    }),
);

/** The UpgradeTask document. */
export const upgradeTaskDocument = lazySchema(() =>
  z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('UpgradeTask'),
    metadata,
    spec: taskSpec(),
  }),
);

const engineAddress = lazySchema(() =>
  z.string().refine((s) => /^(unix:\/\/\/|unix:|tcp:\/\/)/.test(s) || s.startsWith('/'), {
    message: 'must be unix:///path/to/socket or tcp://host:port',
  }),
);

const endpoint = lazySchema(() =>
  z
    .strictObject({
      name: dnsName,
      engine: engineAddress(),
      tls: z
        .strictObject({
          ca: z.string().min(1).optional(),
          cert: z.string().min(1).optional(),
          key: z.string().min(1).optional(),
          serverName: z.string().min(1).optional(),
        })
        .refine((t) => (t.cert === undefined) === (t.key === undefined), {
          message: 'set both cert and key, or neither',
        })
        .optional(),
      home: z.string().min(1).optional(),
    })
    .refine((e) => e.tls === undefined || e.engine.startsWith('tcp://'), {
      message: 'tls applies to tcp:// engines only',
      path: ['tls'],
    }),
);

/** The Inventory document. */
export const inventoryDocument = lazySchema(() =>
  z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Inventory'),
    metadata,
    spec: z.strictObject({
      endpoints: z
        .array(endpoint())
        .min(1, 'list at least one endpoint()')
        .superRefine((eps, ctx) => {
          const seen = new Map<string, number>();
          eps.forEach((e, i) => {
            const first = seen.get(e.name);
            if (first !== undefined)
              ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicates endpoints[${first}]` });
            else seen.set(e.name, i);
          });
        }),
    }),
  }),
);

// Compile-time check that the schemas produce the documented shapes.
const _shapeCheck: [
  (x: z.infer<ReturnType<typeof upgradeTaskDocument>>) => UpgradeTaskManifest,
  (x: z.infer<ReturnType<typeof inventoryDocument>>) => InventoryManifest,
] = [(x) => x, (x) => x];
void _shapeCheck;
