/**
 * Pure builders and records of an App that runs a Release on Kubernetes: one headless
 * Service and one StatefulSet per role, named `<app>-<role>` (`updateStrategy: OnDelete`,
 * replicas = the role's members, the role's volumes → volumeClaimTemplates). The pod template
 * and so every pod made from it carries the release it runs (label `molt.dev/release`): that
 * label is how a pass reads progress back. During a rollout the template carries the raised
 * startup budget (core/policy upgradeFailureThreshold).
 */
import { namedVolumes } from '../../core/settings.ts';
import type { AppManifest } from '../../core/model.ts';
import { memberManifest, memberName, roleOf } from '../../core/release.ts';
import type { ReleaseAppManifest, ReleaseManifest } from '../../core/release-schema.ts';
import { upgradeFailureThreshold, type FailureCode } from '../../core/policy/index.ts';
import type { Container, KubeObject, StatefulSet } from '../../engines/kubernetes/index.ts';
import { COMPONENT, LABELS, MAIN_CONTAINER } from '../app/names.ts';
import { DEFAULT_VOLUME_SIZE, ownerOf, probeFor, type AppRef } from '../app/template.ts';
import { applyPodSettings, podSettings } from '../pod-settings.ts';
import { containerSecurityFor, podFieldsFor } from '../app/pod-settings.ts';

/** Label on a release app's templates and pods: the release they run. */
export const RELEASE_LABEL = 'molt.dev/release';

/**
 * The template marks that name the release: the label, or — for a name longer than a label
 * value may be (63; release names are DNS subdomains of up to 253) — an annotation of the
 * same key. `releaseNamedBy` reads either back.
 */
export function releaseMarks(release: string): { labels: Record<string, string>; annotations: Record<string, string> } {
  return release.length <= 63
    ? { labels: { [RELEASE_LABEL]: release }, annotations: {} }
    : { labels: {}, annotations: { [RELEASE_LABEL]: release } };
}

/** The release a pod or pod template runs, from its label or annotation ('' when neither). */
export function releaseNamedBy(
  meta: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined,
): string {
  return meta?.labels?.[RELEASE_LABEL] ?? meta?.annotations?.[RELEASE_LABEL] ?? '';
}

/** Annotations on every role's StatefulSet. */
export const RELEASE_ANNOTATIONS = {
  /** The installed app spec and a snapshot of its Release (JSON InstalledRelease). */
  installed: 'molt.dev/release-installed',
  /** The rollout of this role in flight (JSON RoleJournal). */
  rollout: 'molt.dev/rollout',
  /** The outcome of the last rollout (JSON LastRollout). */
  last: 'molt.dev/last-rollout',
} as const;

/** Annotation on the App: "true" while its rollout is paused (`molt pause`, or a failure with onFailure: pause). */
export const PAUSED_ANNOTATION = 'molt.dev/paused';

/** What is installed: the app's spec as last applied with success and its Release. */
export interface InstalledRelease {
  app: ReleaseAppManifest['spec'];
  release: ReleaseManifest;
}

/** One role's rollout in flight, kept on its StatefulSet. */
export interface RoleJournal {
  state: 'Upgrading' | 'RollingBack';
  from: string;
  to: string;
  startedAt: string;
  /** Ordinals whose pod molt deleted to move it to `to`. */
  touched: number[];
  /** Ordinals whose `--pod_upgraded` hook ran. */
  hooked: number[];
  /** Ordinals whose `--pod_reverted` hook ran. */
  reverted: number[];
  /** The role hook (`--role_upgraded` / `--role_reverted`) ran. */
  roleHooked: boolean;
  /** Per ordinal: when molt restarted, upgraded, reverted it. */
  times: Record<string, { restartedAt?: string; upgradedAt?: string; revertedAt?: string }>;
  /** Why it rolls back ("Code: message"). */
  cause?: string;
  /** Started by `molt rollback` (history kind "rollback"). */
  rollback?: boolean;
  /** The ordinal that failed. */
  failed?: number;
  /** Set when a failed member paused the rollout (upgradeStrategy.onFailure: pause) until `molt resume`. */
  paused?: { role: string; ordinal: number; reason: FailureCode; message: string; at: string };
  /** The App's generation when the rollout started: the operation the volume copies are named after. */
  generation?: number;
  /** Members (pod names) whose volumes are being copied / were copied before they were replaced. */
  snapshots?: Record<string, 'copying' | 'copied'>;
  /** Members being restored in a rollback: held down, their copy going back, restored. */
  restores?: Record<string, 'held' | 'restoring' | 'restored'>;
}

/** The outcome of the last rollout of the app. */
export interface LastRollout {
  from: string;
  to: string;
  outcome: 'Succeeded' | 'RolledBack';
  reason: string;
  message: string;
  startedAt: string;
  finishedAt: string;
  /** This role's journal as the rollout ended (which members it touched, when). */
  journal?: RoleJournal;
}

/** The StatefulSet (and Service) of a role. */
export function roleSetName(app: string, role: string): string {
  return `${app}-${role}`;
}

/** The labels that select a role's members. */
export function roleSelector(app: string, role: string): Record<string, string> {
  return { [LABELS.app]: app, [LABELS.role]: role, [LABELS.component]: COMPONENT.member };
}

/** The headless Service of a role. */
export function roleServiceFor(app: AppRef, role: string): KubeObject {
  return {
    metadata: {
      name: roleSetName(app.name, role),
      namespace: app.namespace,
      labels: { ...roleSelector(app.name, role), [LABELS.managedBy]: 'molt' },
      ownerReferences: [ownerOf(app, true)],
    },
    spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: roleSelector(app.name, role) },
  } as KubeObject;
}

/** The StatefulSet of `role` running `release` (raised startup budget when `upgrading`). */
export function roleSetFor(
  app: AppRef,
  manifest: ReleaseAppManifest,
  release: ReleaseManifest,
  role: string,
  members: number,
  upgrading: boolean,
): StatefulSet {
  const name = roleSetName(app.name, role);
  const spec = memberManifest(manifest, release, roleOf(release, role), 0);
  const labels = { ...roleSelector(app.name, role), [LABELS.managedBy]: 'molt', [LABELS.name]: app.name };
  const roleSpec = roleOf(release, role);
  const container = containerFor(spec, app.name, role, upgrading);
  const settings = podSettings(spec.spec);
  const pod: { volumes?: Record<string, unknown>[]; securityContext?: Record<string, unknown> } = {};
  applyPodSettings(settings, container, pod);
  const marks = releaseMarks(release.metadata.name);
  return {
    metadata: { name, namespace: app.namespace, labels, ownerReferences: [ownerOf(app, true)] },
    spec: {
      replicas: members,
      serviceName: name,
      selector: { matchLabels: roleSelector(app.name, role) },
      updateStrategy: { type: 'OnDelete' },
      podManagementPolicy: 'Parallel',
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      template: {
        metadata: {
          labels: { ...labels, ...marks.labels, [LABELS.version]: release.spec.version },
          annotations: {
            ...settings.annotations,
            ...marks.annotations,
            ...(upgrading ? { 'molt.dev/upgrade-mode': 'true' } : {}),
          },
        },
        spec: {
          containers: [container],
          ...pod,
          terminationGracePeriodSeconds: spec.spec.stopTimeoutSeconds,
          enableServiceLinks: false,
          ...podFieldsFor(spec.spec),
        },
      },
      volumeClaimTemplates: namedVolumes(roleSpec.volumes).map((v) => ({
        metadata: { name: v.name, labels: { [LABELS.app]: app.name, [LABELS.role]: role } },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: v.size ?? DEFAULT_VOLUME_SIZE } },
          ...(v.storageClassName ? { storageClassName: v.storageClassName } : {}),
        },
      })),
    },
  };
}

/** The member container: the member manifest's spec, with the per-pod identity from the downward API. */
function containerFor(member: AppManifest, app: string, role: string, upgrading: boolean): Container {
  const s = member.spec;
  const c: Container = { name: MAIN_CONTAINER, image: s.image, imagePullPolicy: 'IfNotPresent' };
  if (s.entrypoint) c.command = s.entrypoint;
  if (s.command) c.args = s.command;
  const fixed = Object.entries(s.env)
    .filter(([k]) => k !== 'MOLT_ORDINAL' && k !== 'MOLT_MEMBER')
    .sort(([a], [b]) => (a < b ? -1 : 1));
  const env: Record<string, unknown>[] = fixed.map(([name, value]) => ({
    name,
    value: name === 'MOLT_APP' ? app : name === 'MOLT_ROLE' ? role : value,
  }));
  env.push({ name: 'MOLT_MEMBER', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
  env.push({
    name: 'MOLT_ORDINAL',
    valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } },
  });
  c.env = env as Container['env'];
  // memberManifest names volumes per member (the local engine's); a StatefulSet claim is per pod already.
  const vols = namedVolumes(s.volumes).map((v) => ({
    name: v.name.slice(memberName(app, role, 0).length + 1),
    mountPath: v.mountPath,
  }));
  if (vols.length) c.volumeMounts = vols;
  if (s.probes.startup)
    c.startupProbe = probeFor(s.probes.startup, upgrading ? upgradeFailureThreshold(s, s.probes.startup) : undefined);
  const security = containerSecurityFor(s);
  if (security) c.securityContext = security;
  return c;
}
