/**
 * Multi-member apps (seed 003), pure: the release catalog rules, how an app's members are
 * named and what each member runs, and whether a change of `spec.release` may proceed.
 */
import { InvalidInputError, UpgradeRefusedError } from './errors.ts';
import type { AppManifest } from './model.ts';
import { isBindMount } from './settings.ts';
import type { ReleaseAppManifest, ReleaseManifest, RoleSpec } from './release-schema.ts';
import { sameValue } from './plan.ts';
import { compareVersionStrings } from './version.ts';
import { MEMBER_LABEL } from './member-label.ts';

/** Labels on members, naming their app, role and ordinal. */
export { MEMBER_LABEL };

/** The name of member `ordinal` of `role`: also its container's name and DNS name. */
export function memberName(app: string, role: string, ordinal: number): string {
  return `${app}-${role}-${ordinal}`;
}

/** Throws unless every member name of the app is a valid DNS label. */
export function checkMemberNames(app: ReleaseAppManifest): void {
  for (const r of app.spec.roles) {
    const longest = memberName(app.metadata.name, r.name, r.members - 1);
    if (longest.length > 63) {
      throw new InvalidInputError(
        [
          {
            file: app.metadata.name,
            field: 'metadata.name',
            message: `member name "${longest}" is longer than 63 characters`,
          },
        ],
        'Use a shorter app or role name.',
      );
    }
  }
}

/** The single-container manifest member `ordinal` of `role` runs (its volumes are its own). */
export function memberManifest(
  app: ReleaseAppManifest,
  release: ReleaseManifest,
  role: RoleSpec,
  ordinal: number,
): AppManifest {
  const name = memberName(app.metadata.name, role.name, ordinal);
  const { name: _role, lifecycle: _lifecycle, volumes, ...container } = role;
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: {
      name,
      labels: {
        ...app.metadata.labels,
        [MEMBER_LABEL.owner]: app.metadata.name,
        [MEMBER_LABEL.role]: role.name,
        [MEMBER_LABEL.ordinal]: String(ordinal),
        [MEMBER_LABEL.release]: release.metadata.name,
      },
    },
    spec: {
      ...container,
      // Like a StatefulSet pod's name: each member knows who it is.
      env: {
        ...container.env,
        MOLT_APP: app.metadata.name,
        MOLT_ROLE: role.name,
        MOLT_ORDINAL: String(ordinal),
        MOLT_MEMBER: name,
      },
      package: release.spec.package,
      version: release.spec.version,
      volumes: volumes.map((v) => (isBindMount(v) ? v : { ...v, name: `${name}-${v.name}` })),
      network: app.spec.network,
      upgradeConfig: { forceUpgrade: false, allowNamespaceSwitch: false },
    },
  };
}

/**
 * Whether a Release may enter or change in the catalog. A release in use is immutable except
 * `upgradable`, which may be set when absent; once set it changes only while no app runs it.
 */
export function checkReleaseChange(
  current: ReleaseManifest | undefined,
  incoming: ReleaseManifest,
  usedBy: string[],
): void {
  if (!current || usedBy.length === 0) return;
  const { upgradable: before, ...restBefore } = current.spec;
  const { upgradable: after, ...restAfter } = incoming.spec;
  if (!sameValue(restBefore, restAfter)) {
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `release ${incoming.metadata.name} is used by ${usedBy.join(', ')}: only spec.upgradable may change`,
      'Publish the change as a new release (a new metadata.name, e.g. with the version as suffix) and upgrade the apps to it.',
    );
  }
  if (before !== undefined && before !== after) {
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `release ${incoming.metadata.name} has upgradable: ${before}, which can change only while no app runs it (used by ${usedBy.join(', ')})`,
      'Upgrade or delete those apps first.',
    );
  }
}

/** What applying a release app over its installed state means. */
export type ReleaseAppDecision =
  | { action: 'none' }
  | { action: 'install' }
  | { action: 'rollout'; from: ReleaseManifest; to: ReleaseManifest }
  | { action: 'resume'; to: ReleaseManifest }
  | { action: 'rollback'; to: ReleaseManifest }
  | { action: 'scale' };

/** The installed side of a release app, as the decision needs it. */
export interface InstalledReleaseApp {
  manifest: ReleaseAppManifest;
  /** The release every member was on when the current rollout began (or is on when steady). */
  release: ReleaseManifest;
  /** True while a rollout is in flight or paused. */
  updating: boolean;
  isRollingBack: boolean;
  prevRelease?: string;
  /** Members not yet on `manifest.spec.release` (a partitioned rollout leaves some). */
  membersBehind: number;
}

/**
 * Decides what to do, or refuses with the reason (seed 003 validator rules): while updating
 * only a rollback to prevRelease (or finishing the same release) is allowed; `spec.release`
 * may not change together with anything else; same package, strictly newer version, and the
 * current release must be `upgradable: true`; every role of the app must exist in the new one.
 */
export function decideReleaseApp(
  desired: ReleaseAppManifest,
  installed: InstalledReleaseApp | undefined,
  target: ReleaseManifest,
): ReleaseAppDecision {
  if (!installed) return { action: 'install' };
  const cur = installed.manifest;
  const releaseChanged = desired.spec.release !== cur.spec.release;
  const othersChanged = !sameValue(
    { ...cur.spec, release: '', upgradeStrategy: null },
    { ...desired.spec, release: '', upgradeStrategy: null },
  );
  if (installed.updating) {
    if (desired.spec.release === installed.prevRelease) {
      if (installed.isRollingBack)
        throw new UpgradeRefusedError(
          'ChangeRefused',
          `a rollback of ${cur.metadata.name} is already running`,
          'Wait for it to finish (`molt get app ' + cur.metadata.name + '`).',
        );
      return { action: 'rollback', to: target };
    }
    if (!releaseChanged && !othersChanged) return { action: 'resume', to: target };
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `${cur.metadata.name} is being updated to ${cur.spec.release}: only a rollback to ${installed.prevRelease} or finishing that rollout is allowed now`,
      `Apply spec.release: ${installed.prevRelease} to roll back, or the same manifest to continue.`,
    );
  }
  if (releaseChanged && othersChanged) {
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `spec.release changes together with other fields of ${cur.metadata.name}`,
      'Change the release alone, then the rest (e.g. the member count) in a second apply.',
    );
  }
  if (!releaseChanged) {
    if (installed.membersBehind > 0) return { action: 'resume', to: target };
    return othersChanged ? { action: 'scale' } : { action: 'none' };
  }
  checkReleaseUpgrade(cur, installed.release, target);
  return { action: 'rollout', from: installed.release, to: target };
}

function checkReleaseUpgrade(app: ReleaseAppManifest, from: ReleaseManifest, to: ReleaseManifest): void {
  if (from.spec.package !== to.spec.package) {
    throw new UpgradeRefusedError(
      'PackageChangeRefused',
      `release ${to.metadata.name} is package ${to.spec.package}, not ${from.spec.package}`,
      'An app keeps its package: pick a release of the same package.',
    );
  }
  if (compareVersionStrings(to.spec.version, from.spec.version) <= 0) {
    throw new UpgradeRefusedError(
      'DowngradeRefused',
      `release ${to.metadata.name} (${to.spec.version}) is not newer than ${from.metadata.name} (${from.spec.version})`,
      'Live upgrades go to strictly newer versions; to go back during an update, apply the previous release (rollback).',
    );
  }
  if (from.spec.upgradable !== true) {
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `release ${from.metadata.name} is ${from.spec.upgradable === false ? 'sealed (upgradable: false)' : 'not marked upgradable'}: its apps cannot be upgraded live`,
      from.spec.upgradable === false
        ? 'Its vendor sealed it; reinstall the app on the new release instead.'
        : `Set spec.upgradable: true on release ${from.metadata.name} (allowed while it is absent) and apply it.`,
    );
  }
  const missing = app.spec.roles.filter((r) => !to.spec.roles.some((x) => x.name === r.name)).map((r) => r.name);
  if (missing.length > 0) {
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `release ${to.metadata.name} has no role ${missing.join(', ')}, which ${app.metadata.name} runs`,
      'Pick a release with the same roles.',
    );
  }
}

/** The role of a release by name; throws when the release lacks it. */
export function roleOf(release: ReleaseManifest, name: string): RoleSpec {
  const role = release.spec.roles.find((r) => r.name === name);
  if (!role)
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `release ${release.metadata.name} has no role "${name}"`,
      `Use one of: ${release.spec.roles.map((r) => r.name).join(', ')}.`,
    );
  return role;
}

/** Ordinals a rollout replaces in one role, in order: from the highest down to `partition`. */
export function rolloutOrder(members: number, partition: number): number[] {
  const order: number[] = [];
  for (let i = members - 1; i >= Math.max(0, partition); i--) order.push(i);
  return order;
}
