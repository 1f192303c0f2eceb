/**
 * Pure builders of the Kubernetes objects of an inline App: its headless Service, its
 * StatefulSet (one member, `updateStrategy: OnDelete` so molt decides when a member is
 * replaced; volumes → volumeClaimTemplates that outlive the pods), and the ExecPod of a new
 * version (`sleep infinity`, small limits, no service-account token, owned by the App).
 *
 * During an upgrade the pod template is in "upgrade mode": the startup probe's
 * failureThreshold is raised (core/policy upgradeFailureThreshold) and, when the new
 * version has a post-upgrade script, the startup gate of core/scripts.ts is mounted: an
 * emptyDir at /.molt (where molt writes `upgrade-done` after the script) and the file
 * /.molt/upgrade ("<old> <new>", from a pod annotation through the downward API) — present
 * before the entrypoint's first instruction. Finishing restores the normal template.
 */
import { namedVolumes } from '../../core/settings.ts';
import type { AppSpec, ProbeSpec } from '../../core/model.ts';
import { GATE_DIR, GATE_UPGRADE } from '../../core/scripts.ts';
import { applyPodSettings, podSettings, podSettingsShape } from '../pod-settings.ts';
import type { Container, KubeObject, OwnerReference, Pod, Probe, StatefulSet } from '../../engines/kubernetes/index.ts';
import { isLocalImage, pinnedReference } from '../../engines/registry/reference.ts';
import { ANNOTATIONS, COMPONENT, LABELS, MAIN_CONTAINER, execPodName, hashOf, statefulSetName } from './names.ts';
import { containerSecurityFor, EXEC_CONTAINER_SECURITY, execPodFieldsFor, podFieldsFor } from './pod-settings.ts';

/** The App a built object belongs to. */
export interface AppRef {
  name: string;
  namespace: string;
  uid: string;
}

/** An upgrade-mode template: the raised startup budget and, with a post-upgrade script, the gate. */
export interface UpgradeMode {
  from: string;
  to: string;
  /** The raised startup-probe failureThreshold (undefined: the app has no startup probe). */
  failureThreshold?: number;
  /** True when the new version has a post-upgrade script: mount the startup gate. */
  gate: boolean;
}

/** Default size of a volume claim (a volume without `size`). */
export const DEFAULT_VOLUME_SIZE = '1Gi';

/** The spec fields that shape a member's pod; their hash identifies what a pod runs. */
export function podShape(spec: AppSpec): Record<string, unknown> {
  const { version, image, command, entrypoint, env, volumes, probes, minReadySeconds, stopTimeoutSeconds } = spec;
  const { imagePullSecrets, serviceAccountName, nodeSelector, tolerations, podSecurityContext, securityContext } = spec;
  return {
    version,
    image,
    command,
    entrypoint,
    env,
    volumes,
    probes,
    minReadySeconds,
    stopTimeoutSeconds,
    imagePullSecrets,
    serviceAccountName,
    nodeSelector,
    tolerations,
    podSecurityContext,
    securityContext,
    ...podSettingsShape(spec),
  };
}

/** The spec hash carried by the template and the pods (label molt.dev/spec-hash). */
export function specHash(spec: AppSpec): string {
  return hashOf(podShape(spec));
}

/** The owner reference to the App (controller: true for the objects it controls). */
export function ownerOf(app: AppRef, controller: boolean): OwnerReference {
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    name: app.name,
    uid: app.uid,
    controller,
    blockOwnerDeletion: true,
  };
}

/** The labels that select an app's members. */
export function selectorOf(app: string): Record<string, string> {
  return { [LABELS.app]: app, [LABELS.component]: COMPONENT.member };
}

/** The headless Service that gives every member its stable DNS name. */
export function serviceFor(app: AppRef): KubeObject {
  return {
    metadata: {
      name: statefulSetName(app.name),
      namespace: app.namespace,
      labels: { ...selectorOf(app.name), [LABELS.managedBy]: 'molt' },
      ownerReferences: [ownerOf(app, true)],
    },
    spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: selectorOf(app.name) },
  } as KubeObject;
}

/**
 * The image a pod runs: pinned to `digest` (`repo@sha256:…`) when it is known, so a moved tag
 * never changes what runs — except a `localhost/` image, loaded onto the nodes and in no
 * registry: a node resolves only its tag.
 */
export function runImage(spec: AppSpec, digest?: string): string {
  return digest && !isLocalImage(spec.image) ? pinnedReference(spec.image, digest) : spec.image;
}

/** The digest a template's image is pinned to, if any. */
export function digestOfImage(image: string | undefined): string | undefined {
  const at = image?.indexOf('@') ?? -1;
  return image && at >= 0 ? image.slice(at + 1) : undefined;
}

/** The StatefulSet of an inline app running `spec` (pinned to `digest` when known), in normal or upgrade mode. */
export function statefulSetFor(app: AppRef, spec: AppSpec, mode?: UpgradeMode, digest?: string): StatefulSet {
  const name = statefulSetName(app.name);
  const labels = { ...selectorOf(app.name), [LABELS.managedBy]: 'molt', [LABELS.name]: app.name };
  const podLabels = { ...labels, [LABELS.version]: spec.version, [LABELS.specHash]: specHash(spec) };
  const podAnnotations: Record<string, string> = mode ? { [ANNOTATIONS.upgradeMode]: 'true' } : {};
  if (mode?.gate) podAnnotations[ANNOTATIONS.gate] = `${mode.from} ${mode.to}`;
  const container = containerFor(spec, mode, digest);
  const settings = podSettings(spec);
  Object.assign(podAnnotations, settings.annotations);
  const pod: { volumes?: Record<string, unknown>[]; securityContext?: Record<string, unknown> } = {};
  applyPodSettings(settings, container, pod);
  const volumes: Record<string, unknown>[] = [...(pod.volumes ?? [])];
  if (mode?.gate) {
    volumes.push({ name: 'molt-gate', emptyDir: {} });
    volumes.push({
      name: 'molt-gate-marker',
      downwardAPI: {
        items: [{ path: GATE_UPGRADE, fieldRef: { fieldPath: `metadata.annotations['${ANNOTATIONS.gate}']` } }],
      },
    });
    container.volumeMounts = [
      ...(container.volumeMounts ?? []),
      { name: 'molt-gate', mountPath: GATE_DIR },
      { name: 'molt-gate-marker', mountPath: `${GATE_DIR}/${GATE_UPGRADE}`, subPath: GATE_UPGRADE, readOnly: true },
    ];
  }
  return {
    metadata: { name, namespace: app.namespace, labels, ownerReferences: [ownerOf(app, true)] },
    spec: {
      replicas: 1,
      serviceName: name,
      selector: { matchLabels: selectorOf(app.name) },
      updateStrategy: { type: 'OnDelete' },
      podManagementPolicy: 'Parallel',
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      template: {
        metadata: { labels: podLabels, annotations: podAnnotations },
        spec: {
          containers: [container],
          ...(volumes.length ? { volumes } : {}),
          ...podFieldsFor(spec),
          terminationGracePeriodSeconds: spec.stopTimeoutSeconds,
          enableServiceLinks: false,
        },
      },
      volumeClaimTemplates: namedVolumes(spec.volumes).map((v) => ({
        metadata: { name: v.name, labels: { [LABELS.app]: app.name } },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: v.size ?? DEFAULT_VOLUME_SIZE } },
          ...(v.storageClassName ? { storageClassName: v.storageClassName } : {}),
        },
      })),
    },
  };
}

function containerFor(spec: AppSpec, mode?: UpgradeMode, digest?: string): Container {
  const c: Container = { name: MAIN_CONTAINER, image: runImage(spec, digest), imagePullPolicy: 'IfNotPresent' };
  if (spec.entrypoint) c.command = spec.entrypoint;
  if (spec.command) c.args = spec.command;
  const env = Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : 1));
  if (env.length) c.env = env.map(([name, value]) => ({ name, value }));
  if (spec.volumes.length)
    c.volumeMounts = namedVolumes(spec.volumes).map((v) => ({ name: v.name, mountPath: v.mountPath }));
  if (spec.probes.startup) c.startupProbe = probeFor(spec.probes.startup, mode?.failureThreshold);
  const security = containerSecurityFor(spec);
  if (security) c.securityContext = security;
  return c;
}

/** A Kubernetes probe from molt's (seconds rounded up: Kubernetes takes whole seconds). */
export function probeFor(p: ProbeSpec, failureThreshold?: number): Probe {
  const probe: Probe = {
    periodSeconds: Math.max(1, Math.ceil(p.periodSeconds)),
    timeoutSeconds: Math.max(1, Math.ceil(p.timeoutSeconds)),
    failureThreshold: failureThreshold ?? p.failureThreshold,
  };
  if (p.exec) probe.exec = { command: p.exec };
  else if (p.tcp) probe.tcpSocket = { port: p.tcp.port };
  else if (p.http) probe.httpGet = { port: p.http.port, path: p.http.path };
  return probe;
}

/** The ExecPod of a new version: its image (pinned to `digest` when known), asleep, so molt can read the scripts out of it. */
export function execPodFor(app: AppRef, spec: AppSpec, digest?: string): Pod {
  const hash = specHash(spec);
  return {
    metadata: {
      name: execPodName(app.name, hash),
      namespace: app.namespace,
      labels: {
        [LABELS.app]: app.name,
        [LABELS.component]: COMPONENT.execPod,
        [LABELS.specHash]: hash,
        [LABELS.version]: spec.version,
        [LABELS.managedBy]: 'molt',
      },
      ownerReferences: [ownerOf(app, false)],
    },
    spec: {
      containers: [
        {
          name: 'exec',
          image: runImage(spec, digest),
          imagePullPolicy: 'IfNotPresent',
          command: ['sleep', 'infinity'],
          resources: { limits: { cpu: '100m', memory: '64Mi' }, requests: { cpu: '10m', memory: '16Mi' } },
          securityContext: EXEC_CONTAINER_SECURITY,
        },
      ],
      ...execPodFieldsFor(spec),
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 1,
    },
  };
}
