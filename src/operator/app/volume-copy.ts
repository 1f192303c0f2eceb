/**
 * Data-safe rollback on Kubernetes, the pure part: the names and shapes of the objects that
 * copy a member's volume claims (the anchor: Velero's file-system backup — a pod of the
 * backup tool mounts the claim and copies it file by file).
 *
 * Before the pre-upgrade script of a member, a snapshot Job of the operator's own image mounts
 * every claim of the member and writes each volume as a tar archive (copy/archive.ts) to a
 * claim of its own for this operation: `<volume>-<member>-molt-g<generation>`. On rollback the
 * member is held down (its StatefulSet at 0 replicas), a restore Job archives what the volume
 * holds to `…-displaced` (kept aside, like the local engine's `displaced`), then extracts the
 * copy into the volume; only then does the old version start. Every name follows from the
 * app, member, volume and the upgrade's generation, so each step can be repeated.
 *
 * Who the Jobs run as: the copy must keep owners, and only root may give a file another
 * owner. An app that runs as non-root (the app Pod Security `restricted` admits) has its
 * Jobs run as that same user and groups, `restricted` as well (no capability at all): the
 * files the app wrote are its own, so they come back with their owners; an entry of another
 * owner is restored owned by the app's user, and the Job's log and the Event count it. An app
 * that runs as root (its own pods cannot pass `restricted` anyway) has its Jobs run as root
 * with exactly the capabilities a faithful copy needs (CHOWN, DAC_OVERRIDE, FOWNER, FSETID —
 * all allowed by `baseline`), so every owner comes back.
 */
import { createHash } from 'node:crypto';
import type { AppSpec } from '../../core/model.ts';
import { numericUser, parseBytes, toQuantity } from '../../core/settings.ts';
import { namedVolumes } from '../../core/settings.ts';
import type { KubeObject } from '../../engines/kubernetes/index.ts';
import { copyDir, displacedDir, volumeDir } from '../copy/layout.ts';
import { LABELS } from './names.ts';
import { runsAsNonRoot } from './pod-settings.ts';
import { ownerOf, type AppRef } from './template.ts';

/** Values of the component label of copy Jobs and copy claims. */
export const COPY_COMPONENT = { job: 'volume-copy', claim: 'volume-snapshot' } as const;

/** Labels and annotations of the copy claims (read back by observe.ts and `molt snapshots`). */
export const COPY_LABELS = {
  member: 'molt.dev/member',
  volume: 'molt.dev/volume',
  generation: 'molt.dev/generation',
  kind: 'molt.dev/copy',
  operation: 'molt.dev/operation',
} as const;

export const COPY_ANNOTATIONS = {
  from: 'molt.dev/from',
  to: 'molt.dev/to',
  bytes: 'molt.dev/bytes',
} as const;

export type CopyKind = 'snapshot' | 'displaced';
export type CopyOperation = 'snapshot' | 'restore';

/** The StatefulSet's claim of `volume` for `member` (`<claim template>-<pod>`). */
export function memberClaim(volume: string, member: string): string {
  return `${volume}-${member}`;
}

/** The claim holding the copy (or what a restore displaced) of `volume` of `member` in upgrade `generation`. */
export function copyClaim(volume: string, member: string, generation: number, kind: CopyKind): string {
  return `${volume}-${member}-molt-g${generation}${kind === 'displaced' ? '-displaced' : ''}`;
}

/** The Job of an operation on `member`'s volumes in upgrade `generation` (≤ 63 characters: a label value). */
export function copyJobName(member: string, generation: number, op: CopyOperation): string {
  // A longer member name (a release app's `<app>-<role>-<n>`) is cut with a hash of the whole
  // name, so two members whose names differ only at the end never share a Job.
  const short =
    member.length <= 36
      ? member
      : `${member.slice(0, 27)}-${createHash('sha256').update(member).digest('hex').slice(0, 8)}`;
  return `${short}-molt-${op}-g${generation}`;
}

/** True when the upgrade snapshots (and on rollback restores) the members' volumes. */
export function snapshotsOn(target: Pick<AppSpec, 'upgrade' | 'volumes'>): boolean {
  return target.upgrade.snapshotVolumes && namedVolumes(target.volumes).length > 0;
}

/** A copy claim's size: the member claim's, with room for the archive's headers (a quarter, at least 16Mi). */
export function copyClaimSize(memberSize: string | undefined): string {
  const bytes = parseBytes(memberSize ?? '1Gi') ?? 1024 ** 3;
  const mi = Math.ceil(Math.max(bytes * 1.25, bytes + 16 * 1024 ** 2) / 1024 ** 2);
  return toQuantity(mi * 1024 ** 2);
}

/** What a copy claim is made from. */
export interface CopyClaimInput {
  app: AppRef;
  member: string;
  volume: string;
  generation: number;
  kind: CopyKind;
  from: string;
  to: string;
  /** The member claim's requested size and class (the copy lives beside it). */
  size?: string;
  storageClassName?: string;
}

/** A claim that holds one archive of one operation; owned by the App (it goes with the App). */
export function copyClaimFor(c: CopyClaimInput): KubeObject & { spec: Record<string, unknown> } {
  return {
    metadata: {
      name: copyClaim(c.volume, c.member, c.generation, c.kind),
      namespace: c.app.namespace,
      labels: {
        [LABELS.app]: c.app.name,
        [LABELS.component]: COPY_COMPONENT.claim,
        [LABELS.managedBy]: 'molt',
        [COPY_LABELS.member]: c.member,
        [COPY_LABELS.volume]: c.volume,
        [COPY_LABELS.generation]: String(c.generation),
        [COPY_LABELS.kind]: c.kind,
      },
      annotations: { [COPY_ANNOTATIONS.from]: c.from, [COPY_ANNOTATIONS.to]: c.to },
      ownerReferences: [ownerOf(c.app, false)],
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: copyClaimSize(c.size) } },
      ...(c.storageClassName ? { storageClassName: c.storageClassName } : {}),
    },
  };
}

/** What a copy Job is made from. */
export interface CopyJobInput {
  app: AppRef;
  /** The spec whose pods wrote the volumes (user, groups, placement). */
  spec: AppSpec;
  member: string;
  generation: number;
  op: CopyOperation;
  /** molt's image (the operator's own). */
  image: string;
  /** Schedule beside this running pod (its claims are ReadWriteOnce: one node). */
  besidePod?: string;
}

/** The command of the Job's container: copy/main.ts in molt's image. */
export function copyCommand(op: CopyOperation, volumes: string[]): string[] {
  return [
    '/usr/local/bin/node',
    '--disable-warning=ExperimentalWarning',
    '/app/src/operator/copy/main.ts',
    op,
    ...volumes,
  ];
}

/** The Job that snapshots or restores every volume of one member; owned by the App. */
export function copyJobFor(input: CopyJobInput): KubeObject & { spec: Record<string, unknown> } {
  const { app, spec, member, generation, op } = input;
  const volumes = namedVolumes(spec.volumes).map((v) => v.name);
  const labels = {
    [LABELS.app]: app.name,
    [LABELS.component]: COPY_COMPONENT.job,
    [LABELS.managedBy]: 'molt',
    [COPY_LABELS.member]: member,
    [COPY_LABELS.generation]: String(generation),
    [COPY_LABELS.operation]: op,
  };
  const claims: { name: string; claim: string; path: string }[] = [];
  volumes.forEach((v, i) => {
    claims.push({ name: `volume-${i}`, claim: memberClaim(v, member), path: volumeDir(v) });
    claims.push({ name: `copy-${i}`, claim: copyClaim(v, member, generation, 'snapshot'), path: copyDir(v) });
    if (op === 'restore')
      claims.push({
        name: `displaced-${i}`,
        claim: copyClaim(v, member, generation, 'displaced'),
        path: displacedDir(v),
      });
  });
  const placement: Record<string, unknown> = {};
  if (spec.nodeSelector && Object.keys(spec.nodeSelector).length) placement.nodeSelector = spec.nodeSelector;
  if (spec.tolerations?.length) placement.tolerations = spec.tolerations;
  // molt's image may come from the same private registry as the app's (as in the test rig).
  if (spec.imagePullSecrets?.length) placement.imagePullSecrets = spec.imagePullSecrets.map((s) => ({ name: s.name }));
  if (input.besidePod)
    placement.affinity = {
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          {
            labelSelector: { matchLabels: { 'statefulset.kubernetes.io/pod-name': input.besidePod } },
            topologyKey: 'kubernetes.io/hostname',
          },
        ],
      },
    };
  const security = copySecurity(spec);
  return {
    metadata: {
      name: copyJobName(member, generation, op),
      namespace: app.namespace,
      labels,
      ownerReferences: [ownerOf(app, false)],
    },
    spec: {
      backoffLimit: 2,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 5,
          ...placement,
          securityContext: security.pod,
          containers: [
            {
              name: 'copy',
              image: input.image,
              imagePullPolicy: 'IfNotPresent',
              command: copyCommand(op, volumes),
              terminationMessagePolicy: 'FallbackToLogsOnError',
              securityContext: security.container,
              resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
              volumeMounts: claims.map((c) => ({ name: c.name, mountPath: c.path })),
            },
          ],
          volumes: claims.map((c) => ({ name: c.name, persistentVolumeClaim: { claimName: c.claim } })),
        },
      },
    },
  };
}

/** The copy Job's security contexts: the app's non-root user, restricted; or root with the copy's capabilities. */
export function copySecurity(spec: AppSpec): { pod: Record<string, unknown>; container: Record<string, unknown> } {
  const seccompProfile = { type: 'RuntimeDefault' };
  const readOnlyRootFilesystem = true;
  const allowPrivilegeEscalation = false;
  if (!runsAsNonRoot(spec))
    return {
      pod: { runAsUser: 0, runAsGroup: 0, seccompProfile },
      container: {
        allowPrivilegeEscalation,
        readOnlyRootFilesystem,
        capabilities: { drop: ['ALL'], add: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID'] },
      },
    };
  const u = numericUser(spec.user);
  const p = spec.podSecurityContext ?? {};
  const c = spec.securityContext ?? {};
  const user = c.runAsUser ?? p.runAsUser ?? u?.uid;
  const group = c.runAsGroup ?? p.runAsGroup ?? u?.gid;
  const pod: Record<string, unknown> = { runAsNonRoot: true, seccompProfile };
  if (user !== undefined) pod.runAsUser = user;
  if (group !== undefined) pod.runAsGroup = group;
  // The app's groups too: its volumes are writable through them (fsGroup on real storage).
  if (p.fsGroup !== undefined) pod.fsGroup = p.fsGroup;
  if (p.fsGroupChangePolicy !== undefined) pod.fsGroupChangePolicy = p.fsGroupChangePolicy;
  if (p.supplementalGroups?.length) pod.supplementalGroups = p.supplementalGroups;
  return {
    pod,
    container: { allowPrivilegeEscalation, readOnlyRootFilesystem, capabilities: { drop: ['ALL'] } },
  };
}
