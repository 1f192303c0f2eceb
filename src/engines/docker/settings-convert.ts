/**
 * The Docker Engine API side of the container settings of issue 13: what `createBody` adds
 * for ports, restart policy, limits, user, working dir, stop signal, /dev/shm, tmpfs and the
 * healthcheck, and how `toContainerObservation` reads them back from inspect. Pure.
 *
 * The engines run an exec healthcheck themselves (Config.Healthcheck); a tcp or http check
 * needs a tool in the image, so it is not given to the engine — molt runs it (status) — and
 * the whole healthcheck is also kept in a label so it reads back exactly on both engines.
 */
import { constants } from 'node:os';
import {
  sortPorts,
  type HealthcheckSpec,
  type PortBinding,
  type RestartPolicy,
  type RuntimeSettings,
} from '../../core/settings.ts';
import { byCodeUnit } from '../../core/order.ts';

/** Label holding the healthcheck (JSON) of a container molt created. */
export const HEALTHCHECK_LABEL = 'dev.molt.healthcheck';
/** Label holding the tmpfs sizes (JSON mountPath → bytes), which Podman does not report back. */
export const TMPFS_LABEL = 'dev.molt.tmpfs';

/** Label naming the env entries that hold secrets (names only, comma-separated). */
export const SECRET_ENV_LABEL = 'dev.molt.secret-env';
/** What an observation shows instead of a secret's value. */
export const REDACTED = '(secret: not shown)';

/** The env list with the values of the secret entries replaced: a secret never leaves the driver. */
export function redactSecretEnv(env: string[], label: string | undefined): string[] {
  if (!label) return env;
  const names = new Set(label.split(','));
  return env.map((e) => (names.has(e.slice(0, e.indexOf('='))) ? `${e.slice(0, e.indexOf('='))}=${REDACTED}` : e));
}

/** The parts of container inspect output the settings come from. */
export interface SettingsJson {
  Config: {
    User?: string;
    WorkingDir?: string;
    StopSignal?: string | number;
    Healthcheck?: {
      Test?: string[] | null;
      Interval?: number;
      Timeout?: number;
      StartPeriod?: number;
      Retries?: number;
    } | null;
    Labels?: Record<string, string> | null;
  };
  HostConfig?: {
    PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
    RestartPolicy?: { Name?: string; MaximumRetryCount?: number } | null;
    Memory?: number;
    NanoCpus?: number;
    CpuQuota?: number;
    CpuPeriod?: number;
    PidsLimit?: number | null;
    ShmSize?: number;
    Tmpfs?: Record<string, string> | null;
  } | null;
}

const NS = 1e9;

/** Fields of the create body for `s`: top-level (Config) and HostConfig parts. */
export function settingsBody(s: RuntimeSettings | undefined): {
  config: Record<string, unknown>;
  host: Record<string, unknown>;
  labels: Record<string, string>;
} {
  if (!s) return { config: {}, host: {}, labels: {} };
  const config: Record<string, unknown> = {};
  const host: Record<string, unknown> = {
    RestartPolicy: { Name: s.restart.name, MaximumRetryCount: s.restart.maximumRetryCount },
  };
  const labels: Record<string, string> = {};
  if (s.ports.length) {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
    for (const p of s.ports) {
      const key = `${p.containerPort}/${p.protocol}`;
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostIp: p.hostIP, HostPort: String(p.hostPort) });
    }
    config.ExposedPorts = exposed;
    host.PortBindings = bindings;
  }
  if (s.memoryBytes !== undefined) host.Memory = s.memoryBytes;
  if (s.nanoCpus !== undefined) host.NanoCpus = s.nanoCpus;
  if (s.pidsLimit !== undefined) host.PidsLimit = s.pidsLimit;
  if (s.shmSizeBytes !== undefined) host.ShmSize = s.shmSizeBytes;
  if (s.tmpfs.length) {
    host.Tmpfs = Object.fromEntries(
      s.tmpfs.map((t) => [t.mountPath, t.sizeBytes !== undefined ? `size=${t.sizeBytes}` : '']),
    );
    labels[TMPFS_LABEL] = JSON.stringify(Object.fromEntries(s.tmpfs.map((t) => [t.mountPath, t.sizeBytes ?? null])));
  }
  if (s.workingDir !== undefined) config.WorkingDir = s.workingDir;
  if (s.stopSignal !== undefined) config.StopSignal = s.stopSignal;
  if (s.healthcheck) {
    labels[HEALTHCHECK_LABEL] = JSON.stringify(s.healthcheck);
    if (s.healthcheck.exec) config.Healthcheck = healthcheckBody(s.healthcheck);
  }
  return { config, host, labels };
}

function healthcheckBody(h: HealthcheckSpec): Record<string, unknown> {
  return {
    Test: ['CMD', ...(h.exec ?? [])],
    Interval: h.periodSeconds * NS,
    Timeout: h.timeoutSeconds * NS,
    StartPeriod: h.startPeriodSeconds * NS,
    Retries: h.failureThreshold,
  };
}

/** The settings as inspect reports them. `workingDir` '' and '/' (the default) read as unset. */
export function settingsOf(c: SettingsJson): RuntimeSettings {
  const h = c.HostConfig ?? {};
  const labels = c.Config.Labels ?? {};
  const out: RuntimeSettings = {
    ports: portsOf(h.PortBindings),
    restart: restartOf(h.RestartPolicy),
    tmpfs: tmpfsOf(h.Tmpfs, labels[TMPFS_LABEL]),
  };
  if (h.Memory) out.memoryBytes = h.Memory;
  const nano = h.NanoCpus || (h.CpuQuota && h.CpuPeriod ? Math.round((h.CpuQuota / h.CpuPeriod) * NS) : 0);
  if (nano) out.nanoCpus = nano;
  if (h.PidsLimit && h.PidsLimit > 0) out.pidsLimit = h.PidsLimit;
  if (h.ShmSize) out.shmSizeBytes = h.ShmSize;
  if (c.Config.WorkingDir && c.Config.WorkingDir !== '/') out.workingDir = c.Config.WorkingDir;
  const signal = signalName(c.Config.StopSignal);
  if (signal) out.stopSignal = signal;
  const health = healthcheckOf(c.Config.Healthcheck, labels[HEALTHCHECK_LABEL]);
  if (health) out.healthcheck = health;
  return out;
}

function portsOf(bindings: NonNullable<SettingsJson['HostConfig']>['PortBindings']): PortBinding[] {
  const out: PortBinding[] = [];
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const [port, protocol = 'tcp'] = key.split('/');
    for (const b of list ?? []) {
      out.push({
        hostIP: b.HostIp === '0.0.0.0' ? '' : (b.HostIp ?? ''),
        hostPort: Number(b.HostPort),
        containerPort: Number(port),
        protocol: protocol === 'udp' ? 'udp' : 'tcp',
      });
    }
  }
  return sortPorts(out);
}

function restartOf(p: NonNullable<SettingsJson['HostConfig']>['RestartPolicy']): RestartPolicy {
  const name = p?.Name === 'always' || p?.Name === 'on-failure' || p?.Name === 'unless-stopped' ? p.Name : 'no';
  return { name, maximumRetryCount: name === 'on-failure' ? (p?.MaximumRetryCount ?? 0) : 0 };
}

function tmpfsOf(
  tmpfs: Record<string, string> | null | undefined,
  label: string | undefined,
): RuntimeSettings['tmpfs'] {
  let sizes: Record<string, number | null> = {};
  try {
    sizes = label ? (JSON.parse(label) as Record<string, number | null>) : {};
  } catch {
    /* a foreign label: sizes from the options only */
  }
  return Object.entries(tmpfs ?? {})
    .map(([mountPath, options]) => {
      const size = sizes[mountPath] ?? sizeOption(options);
      return { mountPath, ...(size ? { sizeBytes: size } : {}) };
    })
    .sort((a, b) => byCodeUnit(a.mountPath, b.mountPath));
}

function sizeOption(options: string): number | undefined {
  const m = /(?:^|,)size=(\d+)([kmg]?)/i.exec(options);
  if (!m) return undefined;
  return (
    Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!
  );
}

/** A stop signal as a name (Podman may report the number). */
export function signalName(s: string | number | undefined): string | undefined {
  if (s === undefined || s === '' || s === 0) return undefined;
  if (typeof s === 'number' || /^\d+$/.test(s))
    return Object.entries(constants.signals).find(([, n]) => n === Number(s))?.[0];
  return s.startsWith('SIG') ? s : `SIG${s}`;
}

function healthcheckOf(
  h: SettingsJson['Config']['Healthcheck'],
  label: string | undefined,
): HealthcheckSpec | undefined {
  if (label) {
    try {
      return JSON.parse(label) as HealthcheckSpec;
    } catch {
      /* fall through to what the engine says */
    }
  }
  const test = h?.Test ?? [];
  if (test[0] !== 'CMD' || test.length < 2) return undefined;
  const sec = (ns: number | undefined, dflt: number) => (ns ? Math.round(ns / NS) : dflt);
  return {
    exec: test.slice(1),
    periodSeconds: sec(h?.Interval, 30),
    timeoutSeconds: sec(h?.Timeout, 30),
    startPeriodSeconds: sec(h?.StartPeriod, 0),
    failureThreshold: h?.Retries || 3,
  };
}
