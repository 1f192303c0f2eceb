/**
 * The schemas of molt's documents (zod 4): one definition gives the TypeScript shape,
 * the validation at the edge and the defaults. Unknown fields are errors (strict objects),
 * so a typo never silently does nothing.
 */
import { isIPv4 } from 'node:net';
import * as z from 'zod';
import { parseVersion, VERSION_RULE } from './version.ts';
import { absolutePath, argv, port } from './schema-parts.ts';
import { monitorSeconds, settingsFields, uniqueSettings, volumeEntry } from './settings-schema.ts';
import { podSettingsFields } from './pod-settings.ts';
import { buildFields, lazySchema } from './lazy-schema.ts';

export const API_VERSION = 'molt.dev/v1alpha1';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Kubernetes' DNS-1123 subdomain (the length, ≤ 253, is checked apart: CRD patterns are RE2, without lookahead). */
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const PACKAGE_PART = /^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$/;
const IMAGE_REF = /^[a-zA-Z0-9][a-zA-Z0-9._\-/:@]{0,254}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const LABEL_KEY = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;

/** A DNS-1123 label: the app's name is also its container name and DNS name. */
export const dnsName = z
  .string()
  .regex(
    DNS_LABEL,
    'must be a DNS label: lowercase letters, digits and "-", at most 63, starting and ending with a letter or digit',
  );

/** An App's name: a DNS label, because it names the app's container(s) and their DNS names. */
export const appName = z
  .string()
  .regex(
    DNS_LABEL,
    `must be a DNS label: lowercase letters, digits and "-", at most 63, starting and ending with a letter or digit (an App's name is also its container's name and DNS name, so no dots)`,
  );

/**
 * A Release's name: a DNS-1123 subdomain, what Kubernetes accepts for the name of a
 * cluster-scoped object — dots allowed, so a version can be part of it (kvstore-2.0.0-1).
 */
export const releaseName = z
  .string()
  .max(253, 'must be at most 253 characters')
  .regex(
    DNS_SUBDOMAIN,
    'must be a DNS subdomain: lowercase letters, digits, "-" and ".", at most 253, each dot-separated part starting and ending with a letter or digit (e.g. kvstore-2.0.0-1)',
  );

/** The closest valid App name to `name` (dots and other characters become "-"), or undefined. */
export function dashedAppName(name: string): string | undefined {
  const dashed = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
  return DNS_LABEL.test(dashed) && dashed !== name ? dashed : undefined;
}

export const versionString = z.string().refine((v) => parseVersion(v) !== undefined, { message: VERSION_RULE });

export { absolutePath };

const cidr = z.string().refine((s) => {
  const [ip, bits, ...rest] = s.split('/');
  return (
    rest.length === 0 &&
    ip !== undefined &&
    isIPv4(ip) &&
    bits !== undefined &&
    /^\d+$/.test(bits) &&
    Number(bits) >= 8 &&
    Number(bits) <= 30
  );
}, 'must be an IPv4 CIDR such as 10.90.0.0/24 (prefix 8 to 30)');

const probe = z
  .strictObject({
    exec: argv.optional(),
    tcp: z.strictObject({ port }).optional(),
    http: z.strictObject({ port, path: z.string().startsWith('/').default('/') }).optional(),
    periodSeconds: z.number().positive().max(3600).default(1),
    failureThreshold: z.number().int().min(1).max(100000).default(30),
    timeoutSeconds: z.number().positive().max(3600).default(5),
  })
  .refine((p) => [p.exec, p.tcp, p.http].filter((x) => x !== undefined).length === 1, {
    message: 'set exactly one of exec, tcp or http',
  });

const network = z
  .strictObject({
    name: z.string().regex(VOLUME_NAME, 'must be a network name: letters, digits, "_", "." and "-"').default('molt'),
    ipv4: z
      .string()
      .refine((s) => isIPv4(s), 'must be an IPv4 address such as 10.90.0.10')
      .optional(),
    subnet: cidr.optional(),
  })
  .refine((n) => n.ipv4 === undefined || n.subnet === undefined || ipInSubnet(n.ipv4, n.subnet), {
    message: 'ipv4 must lie inside subnet',
    path: ['ipv4'],
  });

/**
 * The defaults of `spec.upgrade`: what the schema fills in, in its field order (an absent
 * `upgrade` is given them without building its schema; lazy-schema.test.ts checks they agree).
 */
export const UPGRADE_DEFAULTS = {
  scriptTimeoutSeconds: 600,
  scriptMaxBytes: 10 * 1024 * 1024,
  onFailure: 'rollback',
  postUpgradeAttempts: 3,
  snapshotVolumes: true,
  keepSnapshots: 3,
} as const;

/** `spec.upgrade`. */
export const upgradeSettings = lazySchema(() =>
  z.strictObject({
    preUpgrade: absolutePath.optional(),
    postUpgrade: absolutePath.optional(),
    notification: absolutePath.optional(),
    scriptTimeoutSeconds: z.number().positive().max(86400).default(UPGRADE_DEFAULTS.scriptTimeoutSeconds),
    scriptMaxBytes: z
      .number()
      .int()
      .min(1)
      .max(1024 * 1024 * 1024)
      .default(UPGRADE_DEFAULTS.scriptMaxBytes),
    startupFailureThreshold: z.number().int().min(1).max(1000000).optional(),
    monitorSeconds,
    onFailure: z.enum(['rollback', 'retry']).default(UPGRADE_DEFAULTS.onFailure),
    postUpgradeAttempts: z.number().int().min(1).max(100).default(UPGRADE_DEFAULTS.postUpgradeAttempts),
    snapshotVolumes: z.boolean().default(UPGRADE_DEFAULTS.snapshotVolumes),
    keepSnapshots: z.number().int().min(1).max(100).default(UPGRADE_DEFAULTS.keepSnapshots),
  }),
);
type UpgradeSettings = z.output<ReturnType<typeof upgradeSettings>>;

/** The `upgrade` field: the settings, defaults filled in when absent. */
const upgradeField = lazySchema(() => upgradeSettings().prefault({}));
/**
 * What `upgradeField` gives for an absent `upgrade`, without building it: the defaults (a fresh
 * copy each time). Only used where the document has no `upgrade` key, so the inner check, which
 * refuses everything, is never reached.
 */
const absentUpgrade = lazySchema(() =>
  z.custom<UpgradeSettings>(() => false).default((): UpgradeSettings => ({ ...UPGRADE_DEFAULTS })),
);

/** The fields that shape one container, shared by inline Apps and the roles of a Release. */
const containerBase = {
  image: z.string().regex(IMAGE_REF, 'must be an image reference such as localhost/notes:1.2.3-4'),
  command: argv.optional(),
  entrypoint: argv.optional(),
  env: z
    .record(
      z.string().regex(ENV_NAME, 'env names are letters, digits and "_", not starting with a digit'),
      z.string({ error: 'env values must be strings: quote numbers and booleans' }),
    )
    .default({}),
  volumes: z.array(volumeEntry).default([]),
  probes: z.strictObject({ startup: probe.optional() }).default({}),
  minReadySeconds: z.number().min(0).max(3600).default(2),
  stopTimeoutSeconds: z.number().int().min(0).max(3600).default(10),
};
/** The fields of a container built when first used: `upgrade` and the optional settings. */
const containerSettings = { upgrade: upgradeField, ...settingsFields, ...podSettingsFields };

/**
 * The fields of one container: the base ones and those of `containerSettings` named in
 * `settings` (every one when undefined; an absent `upgrade` still gets its defaults).
 */
function containerShape(settings?: ReadonlySet<string>) {
  return { ...containerBase, ...buildFields(containerSettings, settings, { upgrade: absentUpgrade }) };
}

/** Flags duplicate volume names and mount paths. */
function uniqueVolumes(
  spec: Parameters<typeof uniqueSettings>[0] & {
    volumes: ({ name: string; mountPath: string } | { hostPath: string; mountPath: string })[];
  },
  ctx: z.RefinementCtx,
): void {
  uniqueSettings(spec, ctx);
  const seen = new Map<string, number>();
  spec.volumes.forEach((v, i) => {
    for (const key of [...('name' in v ? [`name:${v.name}`] : []), `path:${v.mountPath}`]) {
      if (seen.has(key)) {
        ctx.addIssue({
          code: 'custom',
          path: ['volumes', i, key.startsWith('name') ? 'name' : 'mountPath'],
          message: `duplicates volumes[${seen.get(key)}]`,
        });
      } else seen.set(key, i);
    }
  });
}

/** A package identity: namespace/name. */
export const packageName = z.string().refine((p) => {
  const parts = p.split('/');
  return parts.length === 2 && parts.every((x) => PACKAGE_PART.test(x));
}, 'must be namespace/name, e.g. official/notes (lowercase letters, digits, ".", "_", "-")');

/** The network an app joins. */
export const networkSchema = network.default({ name: 'molt' });

const upgradeConfig = z
  .strictObject({ forceUpgrade: z.boolean().default(false), allowNamespaceSwitch: z.boolean().default(false) })
  .default({ forceUpgrade: false, allowNamespaceSwitch: false });

function appSpec(settings?: ReadonlySet<string>) {
  return z
    .strictObject({
      package: packageName,
      version: versionString,
      ...containerShape(settings),
      network: networkSchema,
      upgradeConfig,
    })
    .superRefine(uniqueVolumes);
}

/** One role of a Release: a container template plus its lifecycle script (seed 003). */
export const roleSchema = lazySchema(() =>
  z
    .strictObject({
      name: dnsName,
      ...containerShape(),
      /** Absolute path in the image of the script called with --pod_upgraded, --role_upgraded, … */
      lifecycle: absolutePath.optional(),
    })
    .superRefine(uniqueVolumes),
);

/** metadata with `name` checked by `name`. */
export function metadataNamed(name: z.ZodString) {
  return z.strictObject({
    name,
    labels: z
      .record(z.string().regex(LABEL_KEY, 'must be a label key such as tier or example.com/tier'), z.string().max(63))
      .default({}),
  });
}

/** The metadata of UpgradeTasks and Inventories. */
export const metadata = metadataNamed(dnsName);
/** The metadata of an App (inline or running a Release). */
export const appMetadata = metadataNamed(appName);

function appDocumentWith(settings?: ReadonlySet<string>) {
  return z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('App'),
    metadata: appMetadata,
    spec: appSpec(settings),
  });
}

/** The App document, every field. */
export const appDocument = lazySchema(() => appDocumentWith());

const appDocumentsBySettings = new Map<string, ReturnType<typeof appDocumentWith>>();
/**
 * The App document's schema for validating `doc`: the full schema's rules, with only the
 * optional settings `doc.spec` names built (the others are absent, so their rules cannot fail).
 */
export function appDocumentFor(doc: unknown): ReturnType<typeof appDocumentWith> {
  const spec = (doc as { spec?: unknown } | null)?.spec;
  if (typeof spec !== 'object' || spec === null) return appDocument();
  const named = Object.keys(containerSettings).filter((k) => Object.hasOwn(spec, k));
  const key = named.join(',');
  let schema = appDocumentsBySettings.get(key);
  if (!schema) appDocumentsBySettings.set(key, (schema = appDocumentWith(new Set(named))));
  return schema;
}

/** True when the IPv4 address lies inside the CIDR. */
export function ipInSubnet(ip: string, subnet: string): boolean {
  const [base, bits] = subnet.split('/');
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (ipToInt(ip) & mask) >>> 0 === (ipToInt(base ?? '') & mask) >>> 0;
}

/** An IPv4 address as an unsigned 32-bit integer. */
export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => ((acc << 8) + Number(octet)) >>> 0, 0);
}

/** An unsigned 32-bit integer as an IPv4 address. */
export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}
