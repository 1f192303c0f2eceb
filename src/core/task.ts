/**
 * UpgradeTask (seed 004): an upgrade as an auditable object. This module holds its typed
 * shape and the per-target decision: given what is installed, skip (already at the new
 * version), refuse (with a reason, nothing touched) or upgrade to a derived App manifest.
 * Pure, no I/O; the schema is in `task-schema.ts`, progress rules in `task-progress.ts`.
 *
 * How a task changes an app: the app's installed manifest is copied with `spec.version` set to
 * `toVersion` and `spec.image` derived from `imageTemplate` (default `{repository}:{version}`,
 * i.e. the installed image with its tag — or digest — replaced by the new version). Everything
 * else (volumes, network, probes, upgradeConfig) stays as installed, so the app-level upgrade
 * rules (seed 001: no downgrade, no package change) apply unchanged.
 */
import { UpgradeRefusedError } from './errors.ts';
import type { AppManifest } from './model.ts';
import { checkUpgradeRules } from './plan.ts';
import { matchesSelector, type LabelSelector } from './selector.ts';

/** Which apps a task upgrades: exactly one of `app` or `selector`, optionally narrowed. */
export interface TaskTargetSpec {
  app?: string;
  selector?: LabelSelector;
  /** Only this role of multi-member apps (refused for apps without roles). */
  role?: string;
  /** Only this member of multi-member apps (refused for apps without roles). */
  member?: string;
}

/** How a task runs. */
export interface TaskOptions {
  /** How long one target's upgrade may take before it is rolled back: seconds, or "90s", "10m", "1h". @default "10m" */
  timeout: string | number;
  /** Further attempts for a target whose upgrade failed (rolled back or aborted). @default 0 */
  retries: number;
  /** Targets upgraded at the same time (across all endpoints). @default 1 */
  concurrency: number;
  /** The task stops starting targets once failed/total exceeds this share. @default 0 */
  maxFailureRatio: number;
}

/** The spec of an UpgradeTask. Exactly one of toVersion / toRelease is set. */
export interface UpgradeTaskSpec {
  target: TaskTargetSpec;
  /** The Inventory whose endpoints the task runs on; absent: the local engine and home. */
  inventory?: string;
  /** A guard: a target at any other version (and not yet at the new one) is refused. */
  fromVersion?: string;
  toVersion?: string;
  toRelease?: string;
  /** The new image of each target; placeholders {repository}, {version}, {app}. @default "{repository}:{version}" */
  imageTemplate: string;
  options: TaskOptions;
}

/** An UpgradeTask document. */
export interface UpgradeTaskManifest {
  apiVersion: 'molt.dev/v1alpha1';
  kind: 'UpgradeTask';
  metadata: { name: string; labels: Record<string, string> };
  spec: UpgradeTaskSpec;
}

/** TLS material of an endpoint (file paths, absolute once applied). */
export interface EndpointTls {
  ca?: string;
  cert?: string;
  key?: string;
  /** The name the server certificate must carry. @default the host of `engine` */
  serverName?: string;
}

/** One engine endpoint of an Inventory: a host molt upgrades apps on. */
export interface EndpointSpec {
  name: string;
  /** `unix:///path/to/socket` or `tcp://host:port`. */
  engine: string;
  /** For tcp: verify the server (and present a client certificate) with these files. */
  tls?: EndpointTls;
  /** molt's state dir for this endpoint's apps. @default <MOLT_HOME>/endpoints/<name> */
  home?: string;
}

/** An Inventory document: the engine endpoints a task may run on. */
export interface InventoryManifest {
  apiVersion: 'molt.dev/v1alpha1';
  kind: 'Inventory';
  metadata: { name: string; labels: Record<string, string> };
  spec: { endpoints: EndpointSpec[] };
}

/** The default image rule: the installed image with its tag replaced by the new version. */
export const DEFAULT_IMAGE_TEMPLATE = '{repository}:{version}';
/** The placeholders an imageTemplate may use. */
export const IMAGE_PLACEHOLDERS = ['repository', 'version', 'app'] as const;

const IMAGE_REF = /^[a-zA-Z0-9][a-zA-Z0-9._\-/:@]{0,254}$/;

/** The repository part of an image reference: without its digest and tag (a registry port stays). */
export function imageRepository(image: string): string {
  const noDigest = image.split('@')[0] ?? image;
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}

/** The target image: the template with its placeholders filled in. */
export function deriveImage(installedImage: string, template: string, version: string, app: string): string {
  const values: Record<string, string> = { repository: imageRepository(installedImage), version, app };
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}

/** What a task does to one target. */
export type TargetDecision =
  | { action: 'skip'; reason: 'AlreadyAtTarget'; message: string }
  | { action: 'refuse'; reason: string; message: string }
  | { action: 'upgrade'; manifest: AppManifest; message: string; warnings: string[] };

/**
 * Decides what the task does to the app `name` whose installed manifest is `installed`:
 * refusals come first for what molt cannot do at all (not installed, roles, releases), then
 * the seed's version rule — at the new version: skip; at `fromVersion` (when given): upgrade;
 * anywhere else: refuse — then the app-level upgrade rules.
 */
export function decideTarget(spec: UpgradeTaskSpec, name: string, installed: AppManifest | undefined): TargetDecision {
  if (!installed) {
    return {
      action: 'refuse',
      reason: 'NotInstalled',
      message: `app "${name}" has no installed version (its first install never succeeded)`,
    };
  }
  if (spec.target.role !== undefined || spec.target.member !== undefined) {
    const which = spec.target.role !== undefined ? `role "${spec.target.role}"` : `member "${spec.target.member}"`;
    return {
      action: 'refuse',
      reason: 'RolesNotSupported',
      message: `app "${name}" has no roles, so the task's ${which} matches nothing in it; narrow by role or member only for multi-member apps`,
    };
  }
  if (spec.toRelease !== undefined) {
    return {
      action: 'refuse',
      reason: 'ReleaseNotSupported',
      message: `spec.toRelease is not yet supported for inline apps: "${name}" is a kind App with its image inline; use spec.toVersion`,
    };
  }
  const to = spec.toVersion ?? '';
  const from = installed.spec.version;
  if (from === to) return { action: 'skip', reason: 'AlreadyAtTarget', message: `already at ${to}; nothing to do` };
  if (spec.fromVersion !== undefined && from !== spec.fromVersion) {
    return {
      action: 'refuse',
      reason: 'FromVersionMismatch',
      message: `app "${name}" is at ${from}, not at spec.fromVersion ${spec.fromVersion} (nor at ${to})`,
    };
  }
  const image = deriveImage(installed.spec.image, spec.imageTemplate, to, name);
  if (!IMAGE_REF.test(image)) {
    return {
      action: 'refuse',
      reason: 'ImageNotDerivable',
      message: `spec.imageTemplate gives "${image}" for "${name}", which is not an image reference`,
    };
  }
  const manifest: AppManifest = { ...installed, spec: { ...installed.spec, version: to, image } };
  try {
    const warnings = checkUpgradeRules(installed.spec, manifest.spec);
    return { action: 'upgrade', manifest, message: `${from} → ${to} (${image})`, warnings };
  } catch (e) {
    if (e instanceof UpgradeRefusedError) return { action: 'refuse', reason: e.code, message: e.message };
    throw e;
  }
}

/** Parses a duration — seconds, or a number followed by s, m or h — into seconds; undefined when invalid. */
export function durationSeconds(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined;
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(value.trim());
  if (!m) return undefined;
  const seconds = Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] ?? 's'] ?? 1);
  return seconds > 0 ? seconds : undefined;
}

/**
 * What selection needs to know of an app: its name, its labels once installed, and what it is
 * — an inline app, a member of a release app (its own app record, owned by the release app),
 * or a release app (multi-member, seed 003).
 */
export interface SelectableApp {
  name: string;
  /** Undefined while the app has no installed manifest. */
  labels: Record<string, string> | undefined;
  kind: 'app' | 'member' | 'release';
}

/**
 * The names of the apps `target` selects, in name order. An app named by `target.app` is
 * selected even when it never installed, or is a member (the task then refuses it, visibly);
 * a selector only matches apps whose labels are known, and never members one by one: they
 * carry their app's labels but change only through their app's rollout.
 */
export function selectApps(target: TaskTargetSpec, apps: readonly SelectableApp[]): string[] {
  const chosen = apps.filter((a) => {
    if (target.app !== undefined) return a.name === target.app;
    return (
      a.kind !== 'member' &&
      a.labels !== undefined &&
      target.selector !== undefined &&
      matchesSelector(a.labels, target.selector)
    );
  });
  return [...new Set(chosen.map((a) => a.name))].sort();
}

/**
 * The decision for a target that is not an inline app: a member is refused (its app's
 * rollout owns it), and so is a release app — with toVersion because it runs releases, with
 * toRelease because UpgradeTask does not roll out releases yet.
 */
export function decideNonInlineTarget(
  spec: UpgradeTaskSpec,
  name: string,
  what: { kind: 'member'; owner: string } | { kind: 'release'; release: string },
): TargetDecision {
  if (what.kind === 'member') {
    return {
      action: 'refuse',
      reason: 'MemberOfReleaseApp',
      message: `"${name}" is a member of the release app "${what.owner}": members change only through their app's rollout; target "${what.owner}" instead`,
    };
  }
  if (spec.toRelease === undefined) {
    return {
      action: 'refuse',
      reason: 'ToReleaseRequired',
      message: `"${name}" runs release ${what.release} (a multi-member app): it moves to another release (spec.toRelease), not to a version`,
    };
  }
  if (spec.toRelease === what.release)
    return {
      action: 'skip',
      reason: 'AlreadyAtTarget',
      message: `already runs release ${what.release}; nothing to do`,
    };
  return {
    action: 'refuse',
    reason: 'ReleaseRolloutNotSupported',
    message: `UpgradeTask does not roll out releases yet: apply "${name}" with spec.release: ${spec.toRelease} (\`molt apply -f\`)`,
  };
}
