/**
 * The pod-template side of the container settings of issue 13, shared by an inline App's
 * StatefulSet and a Release role's: container ports, resource limits, runAsUser/runAsGroup
 * from a numeric user, workingDir, a memory-backed emptyDir at /dev/shm for shmSize and one
 * per tmpfs, a liveness probe from the healthcheck, containerLabels as pod annotations.
 * Settings that only make sense on the local engine are refused before (core/local-only.ts).
 * Pure.
 */
import type { AppSpec } from '../core/model.ts';
import { cpuQuantity, numericUser, parseBytes, parseNanoCpus, portBindings, toQuantity } from '../core/settings.ts';
import type { Container, Probe } from '../engines/kubernetes/index.ts';

/** What the settings add to a pod template. */
export interface PodSettings {
  /** Fields merged into the main container. */
  container: Partial<Container>;
  /** Pod volumes (emptyDirs for /dev/shm and tmpfs). */
  volumes: Record<string, unknown>[];
  /** Pod-level securityContext fields. */
  securityContext: Record<string, unknown>;
  /** Pod template annotations. */
  annotations: Record<string, string>;
}

/** The spec fields of issue 13 that shape a pod (for the spec hash: a change rolls the pod). */
export function podSettingsShape(spec: AppSpec): Record<string, unknown> {
  const { ports, resources, user, workingDir, shmSize, tmpfs, containerLabels, healthcheck } = spec;
  return { ports, resources, user, workingDir, shmSize, tmpfs, containerLabels, healthcheck };
}

/** The pod-template parts of `spec`'s settings. */
export function podSettings(spec: AppSpec): PodSettings {
  const container: Partial<Container> = {};
  const volumes: Record<string, unknown>[] = [];
  const mounts: { name: string; mountPath: string }[] = [];
  const ports = portBindings(spec.ports);
  if (ports.length)
    container.ports = ports.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol.toUpperCase() }));
  const limits: Record<string, string> = {};
  const memory = parseBytes(spec.resources?.memory);
  const nano = parseNanoCpus(spec.resources?.cpus);
  if (memory !== undefined) limits.memory = toQuantity(memory);
  if (nano !== undefined) limits.cpu = cpuQuantity(nano);
  if (Object.keys(limits).length) container.resources = { limits };
  if (spec.workingDir !== undefined) container.workingDir = spec.workingDir;
  const memoryDir = (name: string, mountPath: string, size: string | number | undefined) => {
    const bytes = parseBytes(size);
    volumes.push({
      name,
      emptyDir: { medium: 'Memory', ...(bytes !== undefined ? { sizeLimit: toQuantity(bytes) } : {}) },
    });
    mounts.push({ name, mountPath });
  };
  if (spec.shmSize !== undefined) memoryDir('molt-shm', '/dev/shm', spec.shmSize);
  (spec.tmpfs ?? []).forEach((t, i) => memoryDir(`molt-tmpfs-${i}`, t.mountPath, t.size));
  if (mounts.length) container.volumeMounts = mounts;
  if (spec.healthcheck) container.livenessProbe = livenessProbe(spec.healthcheck);
  const user = numericUser(spec.user);
  const securityContext: Record<string, unknown> = {};
  if (user) {
    securityContext.runAsUser = user.uid;
    if (user.gid !== undefined) securityContext.runAsGroup = user.gid;
  }
  return { container, volumes, securityContext, annotations: { ...spec.containerLabels } };
}

function livenessProbe(h: NonNullable<AppSpec['healthcheck']>): Probe {
  const probe: Probe = {
    periodSeconds: h.periodSeconds,
    failureThreshold: h.failureThreshold,
    timeoutSeconds: h.timeoutSeconds,
  };
  if (h.startPeriodSeconds > 0) probe.initialDelaySeconds = h.startPeriodSeconds;
  if (h.exec) probe.exec = { command: h.exec };
  else if (h.tcp) probe.tcpSocket = { port: h.tcp.port };
  else if (h.http) probe.httpGet = { port: h.http.port, path: h.http.path };
  return probe;
}

/** Applies `s` to a built container and pod spec (volume mounts appended). */
export function applyPodSettings(
  s: PodSettings,
  container: Container,
  pod: { volumes?: Record<string, unknown>[]; securityContext?: Record<string, unknown> },
): void {
  const { volumeMounts, ...rest } = s.container;
  Object.assign(container, rest);
  if (volumeMounts?.length)
    container.volumeMounts = [
      ...(container.volumeMounts ?? []),
      ...(volumeMounts as NonNullable<Container['volumeMounts']>),
    ];
  if (s.volumes.length) pod.volumes = [...(pod.volumes ?? []), ...s.volumes];
  if (Object.keys(s.securityContext).length) pod.securityContext = { ...pod.securityContext, ...s.securityContext };
}
