/**
 * The container settings real workloads need (issue 13), named as Compose and `podman run`
 * users know them: their model types and the pure functions that normalise what a manifest
 * says (sizes, CPU counts, port specs, restart policies, signals) into what an engine takes.
 * Pure, no I/O; the zod schema is in settings-schema.ts.
 */
import { resolve as resolvePath } from 'node:path';
import type { ContainerFile } from './model.ts';
import { byCodeUnit } from './order.ts';

/** A port as written in a manifest: Compose short syntax or its long form. */
export type PortSpec = string | { target: number; published: number; hostIP?: string; protocol?: 'tcp' | 'udp' };

/** A published port, normalised. `hostIP` '' means every address of the host. */
export interface PortBinding {
  hostIP: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/** A named engine volume mounted into the container. */
export interface NamedVolumeSpec {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  /** Kubernetes only: the claim's size. @default 1Gi */
  size?: string;
  /** Kubernetes only: the claim's StorageClass. @default the cluster's default class */
  storageClassName?: string;
}

/** A host directory or file bind-mounted into the container (local engines only). */
export interface BindMountSpec {
  hostPath: string;
  mountPath: string;
  readOnly?: boolean;
}

/** `resources`: limits applied by the engine (cgroups). */
export interface ResourcesSpec {
  /** Bytes (number) or a size such as 512Mi, 1g. */
  memory?: string | number;
  /** CPUs, e.g. "1.5" or 0.5. */
  cpus?: string | number;
  /** Largest number of processes/threads. */
  pids?: number;
}

/** A liveness check while the container runs. Exactly one of exec/tcp/http. */
export interface HealthcheckSpec {
  exec?: string[];
  tcp?: { port: number };
  http?: { port: number; path: string };
  /** @default 10 */
  periodSeconds: number;
  /** @default 3 */
  failureThreshold: number;
  /** @default 5 */
  timeoutSeconds: number;
  /** @default 0 */
  startPeriodSeconds: number;
}

/** A secret: a file on the host (relative to the manifest), mounted as a file or given as env. */
export interface SecretSpec {
  name: string;
  file: string;
  /** Where the file appears in the container. @default /run/secrets/NAME (when env is not set) */
  mountPath?: string;
  /** The env variable that gets the file's content instead. */
  env?: string;
}

/** The new container settings of issue 13, all optional (absent: the engine's/image's default). */
export interface ContainerSettings {
  ports?: PortSpec[];
  /** no | on-failure[:N] | always | unless-stopped. @default unless-stopped */
  restart?: string;
  resources?: ResourcesSpec;
  /** name, uid, name:group or uid:gid. */
  user?: string;
  workingDir?: string;
  stopSignal?: string;
  shmSize?: string | number;
  tmpfs?: { mountPath: string; size?: string | number }[];
  /** KEY=VALUE files, paths relative to the manifest; the manifest's `env` wins. */
  envFrom?: { file: string }[];
  secrets?: SecretSpec[];
  /** Labels on the container (on Kubernetes: pod annotations). */
  containerLabels?: Record<string, string>;
  healthcheck?: HealthcheckSpec;
  /** Apps that must run before this one (`molt up` order). */
  dependsOn?: string[];
}

/**
 * Every settings field, one entry each: the table-driven converter test is a Record over
 * these keys, so a field added here without a row (and so without a converter) fails tsc.
 */
export const SETTINGS_FIELDS = [
  'ports',
  'restart',
  'resources',
  'user',
  'workingDir',
  'stopSignal',
  'shmSize',
  'tmpfs',
  'hostPath',
  'envFrom',
  'secrets',
  'containerLabels',
  'healthcheck',
  'dependsOn',
  'monitorSeconds',
] as const;
export type SettingsField = (typeof SETTINGS_FIELDS)[number];

/** The restart policy an app gets when it says none. */
export const DEFAULT_RESTART = 'unless-stopped';

/** A restart policy as the Docker API takes it. */
export interface RestartPolicy {
  name: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  maximumRetryCount: number;
}

const RESTART = /^(no|always|unless-stopped|on-failure(?::(\d{1,6}))?)$/;

/** Parses `no | on-failure[:N] | always | unless-stopped`; undefined when invalid. */
export function parseRestart(value: string | undefined): RestartPolicy | undefined {
  const m = RESTART.exec(value ?? DEFAULT_RESTART);
  if (!m) return undefined;
  const name = (m[1]!.startsWith('on-failure') ? 'on-failure' : m[1]) as RestartPolicy['name'];
  return { name, maximumRetryCount: m[2] === undefined ? 0 : Number(m[2]) };
}

/** The policy's manifest spelling (inverse of parseRestart). */
export function formatRestart(p: RestartPolicy): string {
  return p.name === 'on-failure' && p.maximumRetryCount > 0 ? `on-failure:${p.maximumRetryCount}` : p.name;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Bytes of a size: a number (bytes) or a string such as 512Mi, 64m, 1g, 1.5GiB, 100000.
 * Every unit is binary (k = Ki = 1024), as Docker and Compose read them. Undefined when invalid.
 */
export function parseBytes(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)$/i.exec(value.trim());
  if (!m || (m[3]!.toLowerCase() === 'i' && m[2] === '')) return undefined;
  const bytes = Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** A byte count as a Kubernetes quantity (Mi/Ki when exact). */
export function toQuantity(bytes: number): string {
  for (const [unit, size] of [
    ['Gi', 1024 ** 3],
    ['Mi', 1024 ** 2],
    ['Ki', 1024],
  ] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** Nano-CPUs of `cpus` ("1.5", 0.5, or Kubernetes' "500m"); undefined when invalid. */
export function parseNanoCpus(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const milli = /^(\d+)m$/.exec(text);
  const n = milli ? Number(milli[1]) / 1000 : /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  const nano = Math.round(n * 1e9);
  return Number.isFinite(nano) && nano >= 1e6 && n <= 1024 ? nano : undefined;
}

/** Nano-CPUs as a Kubernetes CPU quantity (millicores). */
export function cpuQuantity(nano: number): string {
  return `${Math.max(1, Math.round(nano / 1e6))}m`;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** Why a port spec is invalid, or its binding. */
export function parsePort(spec: PortSpec): PortBinding | { error: string } {
  if (typeof spec !== 'string') {
    const hostIP = spec.hostIP ?? '';
    if (hostIP !== '' && !IPV4.test(hostIP))
      return { error: `hostIP "${hostIP}" must be an IPv4 address such as 127.0.0.1` };
    return {
      hostIP: hostIP === '0.0.0.0' ? '' : hostIP,
      hostPort: spec.published,
      containerPort: spec.target,
      protocol: spec.protocol ?? 'tcp',
    };
  }
  const m = /^(?:(.+):)?([^:]+):([^:/]+)(?:\/(tcp|udp))?$/.exec(spec);
  if (!m) {
    return {
      error: /^\d+(\/(tcp|udp))?$/.test(spec)
        ? `"${spec}" names only the container port: give the host port too, e.g. "${spec.split('/')[0]}:${spec}"`
        : `"${spec}" must be [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp], e.g. "8080:80" or "127.0.0.1:5432:5432/tcp"`,
    };
  }
  const [, ip = '', host, container, protocol = 'tcp'] = m;
  if (ip !== '' && !IPV4.test(ip)) return { error: `"${ip}" in "${spec}" must be an IPv4 address such as 127.0.0.1` };
  const hostPort = portNumber(host!);
  const containerPort = portNumber(container!);
  if (hostPort === undefined || containerPort === undefined)
    return { error: `"${spec}": ports are numbers 1 to 65535 (ranges are not supported)` };
  return { hostIP: ip === '0.0.0.0' ? '' : ip, hostPort, containerPort, protocol: protocol as 'tcp' | 'udp' };
}

function portNumber(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** The bindings of a spec's ports (invalid entries are the schema's business and are skipped). */
export function portBindings(ports: PortSpec[] | undefined): PortBinding[] {
  return (ports ?? []).map(parsePort).filter((p): p is PortBinding => !('error' in p));
}

/** Bindings in a canonical order (host port, then protocol), as engines report them back. */
export function sortPorts(ports: PortBinding[]): PortBinding[] {
  return [...ports].sort(
    (a, b) => a.hostPort - b.hostPort || byCodeUnit(a.protocol, b.protocol) || byCodeUnit(a.hostIP, b.hostIP),
  );
}

/** A binding in short syntax, e.g. 127.0.0.1:5432:5432/udp (protocol tcp left out). */
export function formatPort(p: PortBinding): string {
  return `${p.hostIP ? `${p.hostIP}:` : ''}${p.hostPort}:${p.containerPort}${p.protocol === 'tcp' ? '' : `/${p.protocol}`}`;
}

const SIGNALS = new Set([
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGKILL',
  'SIGUSR1',
  'SIGSEGV',
  'SIGUSR2',
  'SIGPIPE',
  'SIGALRM',
  'SIGTERM',
  'SIGSTKFLT',
  'SIGCHLD',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
]);

/** A signal name normalised to SIGNAME (INT → SIGINT); undefined when unknown. */
export function normaliseSignal(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const upper = value.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return SIGNALS.has(name) ? name : undefined;
}

/** The numeric uid and gid of `user` when it is numeric (uid or uid:gid); names resolve only in the image. */
export function numericUser(user: string | undefined): { uid: number; gid?: number } | undefined {
  const m = /^(\d+)(?::(\d+))?$/.exec(user ?? '');
  if (!m) return undefined;
  return { uid: Number(m[1]), ...(m[2] !== undefined ? { gid: Number(m[2]) } : {}) };
}

/** Where a secret appears in the container (Compose's /run/secrets/NAME when neither is given). */
export function secretTarget(s: SecretSpec): { mountPath: string } | { env: string } {
  if (s.env !== undefined) return { env: s.env };
  return { mountPath: s.mountPath ?? `/run/secrets/${s.name}` };
}

/** Parses KEY=VALUE lines (an env file, as `podman run --env-file` reads it); problems by line. */
export function parseEnvFile(text: string): {
  env: Record<string, string>;
  problems: { line: number; message: string }[];
} {
  const env: Record<string, string> = {};
  const problems: { line: number; message: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      problems.push({
        line: i + 1,
        message: `"${key}" is not an env name (letters, digits and "_", not starting with a digit)`,
      });
    else if (eq < 0) problems.push({ line: i + 1, message: `"${key}" has no "=": write ${key}=VALUE` });
    else env[key] = line.slice(eq + 1);
  });
  return { env, problems };
}

/**
 * The engine-neutral runtime settings of one container, normalised (bytes, nano-CPUs, port
 * bindings): what ContainerSpec asks for and what ContainerObservation reads back.
 */
export interface RuntimeSettings {
  ports: PortBinding[];
  restart: RestartPolicy;
  memoryBytes?: number;
  nanoCpus?: number;
  pidsLimit?: number;
  workingDir?: string;
  stopSignal?: string;
  shmSizeBytes?: number;
  tmpfs: { mountPath: string; sizeBytes?: number }[];
  healthcheck?: HealthcheckSpec;
}

/** The runtime settings a spec asks for. */
export function runtimeSettings(spec: ContainerSettings): RuntimeSettings {
  const r = spec.resources ?? {};
  const out: RuntimeSettings = {
    ports: sortPorts(portBindings(spec.ports)),
    restart: parseRestart(spec.restart) ?? { name: 'unless-stopped', maximumRetryCount: 0 },
    tmpfs: (spec.tmpfs ?? []).map((t) => ({
      mountPath: t.mountPath,
      ...(t.size !== undefined ? { sizeBytes: parseBytes(t.size) } : {}),
    })),
  };
  if (r.memory !== undefined) out.memoryBytes = parseBytes(r.memory);
  if (r.cpus !== undefined) out.nanoCpus = parseNanoCpus(r.cpus);
  if (r.pids !== undefined) out.pidsLimit = r.pids;
  if (spec.workingDir !== undefined) out.workingDir = spec.workingDir;
  if (spec.stopSignal !== undefined) out.stopSignal = normaliseSignal(spec.stopSignal);
  if (spec.shmSize !== undefined) out.shmSizeBytes = parseBytes(spec.shmSize);
  if (spec.healthcheck !== undefined) out.healthcheck = spec.healthcheck;
  return out;
}

/** True for a bind-mount entry of `volumes`. */
export function isBindMount(v: NamedVolumeSpec | BindMountSpec): v is BindMountSpec {
  return 'hostPath' in v;
}

/** The named volumes of a spec's `volumes`. */
export function namedVolumes(volumes: (NamedVolumeSpec | BindMountSpec)[]): NamedVolumeSpec[] {
  return volumes.filter((v): v is NamedVolumeSpec => !isBindMount(v));
}

/** What the host files of a spec give the container, read at apply time (runner/host-inputs.ts). */
export interface ResolvedInputs {
  /** From envFrom files, in order (later files win). */
  env: Record<string, string>;
  /** Secrets given as env. */
  secretEnv: Record<string, string>;
  /** Secrets given as files (mode 0400, owned by the container's user). */
  files: ContainerFile[];
  /** A keyed digest of all of the above (label dev.molt.inputs-digest): tells a changed file without storing its content. */
  digest?: string;
}

/** No host inputs. */
export const NO_INPUTS: ResolvedInputs = { env: {}, secretEnv: {}, files: [] };

/** The spec with its envFrom and secret file paths made absolute against `baseDir` (the manifest's directory). */
export function resolveSettingFiles<T extends ContainerSettings>(spec: T, baseDir: string): T {
  const out = { ...spec };
  if (spec.envFrom) out.envFrom = spec.envFrom.map((f) => ({ ...f, file: resolvePath(baseDir, f.file) }));
  if (spec.secrets) out.secrets = spec.secrets.map((s) => ({ ...s, file: resolvePath(baseDir, s.file) }));
  return out;
}
