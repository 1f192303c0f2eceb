/**
 * Deciding what `apply` must do for one App: nothing, record a spec change, install, or
 * replace the running version — or refuse, before anything is touched (seed 001 rules).
 * Pure: the caller passes what is installed.
 */
import { UpgradeRefusedError } from './errors.ts';
import type { AppManifest, AppSpec } from './model.ts';
import { downgradeWarning } from './policy/upgrade-rules.ts';
import { FORWARD_STEPS, type ForwardStep, type OperationKind } from './upgrade-machine.ts';
import { compareVersionStrings } from './version.ts';
import { namedVolumes } from './settings.ts';
import { comparable, fieldDiff, INPUTS_CHANGED, SHAPING_SETTINGS } from './settings-diff.ts';
import { upgradeFailureThreshold } from './policy/readiness.ts';
import { byCodeUnit } from './order.ts';

/** The outcome of planning one App. */
export type Decision =
  | { action: 'none'; reason: string }
  | { action: 'record'; reason: string }
  | {
      action: OperationKind;
      reason: string;
      from?: string;
      to: string;
      warnings: string[];
      steps: readonly ForwardStep[];
      diffs?: string[];
    };

/** Spec fields that shape the container: a change to any of them replaces it. */
const CONTAINER_FIELDS = [
  'image',
  'command',
  'entrypoint',
  'env',
  'volumes',
  'network',
  ...SHAPING_SETTINGS,
] as const satisfies readonly (keyof AppSpec)[];

/**
 * Decides what applying `desired` over `installed` (undefined: not installed) means.
 * `goingBack`: a rollback to a version installed before (`molt rollback`, a rollout's revert)
 * — a lower version is then what was asked for, not a downgrade that needs forceUpgrade.
 * `inputsChanged`: the contents of envFrom or secret files changed under the same paths.
 */
export function decide(
  desired: AppManifest,
  installed: AppManifest | undefined,
  options: { goingBack?: boolean; inputsChanged?: boolean } = {},
): Decision {
  if (!installed) {
    return {
      action: 'install',
      reason: 'not installed',
      to: desired.spec.version,
      warnings: [],
      steps: FORWARD_STEPS.install,
    };
  }
  const warnings = checkUpgradeRules(installed.spec, desired.spec, options.goingBack);
  const from = installed.spec.version;
  const to = desired.spec.version;
  const inputsChanged = options.inputsChanged ?? false;
  const changed = CONTAINER_FIELDS.filter(
    (f) => !sameValue(comparable(f, installed.spec), comparable(f, desired.spec)),
  );
  if (from === to && changed.length === 0 && !inputsChanged) {
    return sameValue(installed, desired)
      ? { action: 'none', reason: 'up to date' }
      : {
          action: 'record',
          reason: `only settings that do not shape the container changed: ${differingFields(installed, desired).join(', ')}`,
        };
  }
  const diffs = changed.map((f) => fieldDiff(f, installed.spec, desired.spec));
  if (inputsChanged) diffs.push(INPUTS_CHANGED);
  const reason = options.goingBack
    ? `rollback ${from} → ${to}`
    : from !== to
      ? `version ${from} → ${to}`
      : `${[...changed, ...(inputsChanged ? ['envFrom/secrets contents'] : [])].join(', ')} changed`;
  return { action: 'upgrade', reason, from, to, warnings, steps: FORWARD_STEPS.upgrade, diffs };
}

/** Throws when the change is not allowed; returns warnings for allowed-but-risky changes. */
export function checkUpgradeRules(current: AppSpec, desired: AppSpec, goingBack = false): string[] {
  const [curNs, curName] = current.package.split('/');
  const [newNs, newName] = desired.package.split('/');
  if (curName !== newName) {
    throw new UpgradeRefusedError(
      'PackageChangeRefused',
      `spec.package changes the package name from "${curName}" to "${newName}"`,
      'An app keeps its package name for life: create a new app (a new metadata.name) for another package.',
    );
  }
  const warnings: string[] = [];
  if (curNs !== newNs) {
    if (!desired.upgradeConfig.allowNamespaceSwitch) {
      throw new UpgradeRefusedError(
        'NamespaceSwitchRefused',
        `spec.package switches namespace from "${curNs}" to "${newNs}"`,
        'Set spec.upgradeConfig.allowNamespaceSwitch: true if the package really moved to the new namespace.',
      );
    }
    warnings.push(`package namespace switches from ${curNs} to ${newNs} (allowNamespaceSwitch)`);
  }
  if (compareVersionStrings(desired.version, current.version) < 0 && !goingBack) {
    if (!desired.upgradeConfig.forceUpgrade) {
      throw new UpgradeRefusedError(
        'DowngradeRefused',
        `version ${desired.version} is lower than the installed ${current.version}: downgrades are refused`,
        'A downgrade can leave data the old version cannot read. If you are sure, set spec.upgradeConfig.forceUpgrade: true (or use `molt rollback`).',
      );
    }
    warnings.push(downgradeWarning(current.version, desired.version));
  }
  return warnings;
}

/**
 * The dotted paths of the fields that differ between two documents (metadata and spec), as
 * deep as both sides are objects: `spec.env.LOG_LEVEL`, `spec.upgradeConfig.forceUpgrade`.
 */
export function differingFields(a: unknown, b: unknown, path = ''): string[] {
  if (sameValue(a, b)) return [];
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(a) || !isObject(b)) return [path || '(the document)'];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((k) => differingFields(a[k], b[k], path ? `${path}.${k}` : k));
}

/** Structural equality of plain JSON values (key order ignored). */
export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([x], [y]) => byCodeUnit(x, y))
        .map(([k, x]) => [k, canonical(x)]),
    );
  }
  return v;
}

/** A one-line description of what a step does, for `plan` and progress output. */
export function describeStep(step: string, desired: AppManifest, installed: AppManifest | undefined): string {
  const { spec, metadata } = desired;
  const text: Record<string, string> = {
    EnsureImage: `make image ${spec.image} present (pull when missing)`,
    PrepareResources: `ensure network ${spec.network.name} and volumes ${
      namedVolumes(spec.volumes)
        .map((v) => v.name)
        .join(', ') || '(none)'
    }; keep the IP`,
    StopOld: `stop ${metadata.name} ${installed?.spec.version ?? ''} (SIGTERM, ${installed?.spec.stopTimeoutSeconds ?? spec.stopTimeoutSeconds}s grace)`,
    RenameOld: `park the old container as ${metadata.name}.molt-old (kept until the new one is ready)`,
    CreateNew: `create ${metadata.name} ${spec.version} with the same mounts and IP`,
    StartNew: `start ${metadata.name} ${spec.version}`,
    AwaitReady: spec.probes.startup
      ? `wait for the startup probe (${probeBudget(desired, installed)} × ${spec.probes.startup.periodSeconds}s${installed ? ', the raised upgrade budget' : ''})`
      : `wait until it has run ${spec.minReadySeconds}s`,
    MonitorNew: spec.upgrade.monitorSeconds
      ? `watch it for ${spec.upgrade.monitorSeconds}s${spec.healthcheck ? ' (healthcheck)' : ''}: an exit or a failing healthcheck rolls back`
      : 'skipped (no spec.upgrade.monitorSeconds)',
    RemoveOld: 'remove the old container (volumes stay)',
    FetchScripts: `read the upgrade scripts ${spec.version} declares (image labels dev.molt.pre-upgrade/post-upgrade, or spec.upgrade) from its image`,
    SnapshotVolumes: spec.upgrade.snapshotVolumes
      ? 'snapshot every volume (restored if the upgrade is rolled back)'
      : 'skipped (spec.upgrade.snapshotVolumes: false)',
    PreUpgrade: `run the pre-upgrade script, if any, in the running ${installed?.spec.version ?? 'old'} container with (${installed?.spec.version ?? 'old'}, ${spec.version})`,
    PostUpgrade: `run the post-upgrade script, if any, in the new container; its start waits for it (onFailure: ${spec.upgrade.onFailure})`,
    PruneSnapshots: `keep the newest ${spec.upgrade.keepSnapshots} snapshot sets`,
  };
  return text[step] ?? step;
}

/** The startup-probe failures AwaitReady allows: the raised upgrade budget when replacing a version, else the probe's own. */
function probeBudget(desired: AppManifest, installed: AppManifest | undefined): number | undefined {
  const probe = desired.spec.probes.startup;
  return installed ? upgradeFailureThreshold(desired.spec, probe) : probe?.failureThreshold;
}
