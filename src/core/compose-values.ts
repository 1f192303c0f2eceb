/**
 * The value syntaxes of the Compose Specification that molt reads, each turned into what an
 * App manifest says: durations, commands as strings, ports, volumes, tmpfs, healthchecks,
 * environment and labels as lists. Pure; a function returns `{ error }` for what it cannot
 * read, and the caller reports it at the value's line.
 */
import { isAbsolute, resolve } from 'node:path';

/** A value that could not be read, with why. */
export interface ValueError {
  error: string;
}

const DURATION_UNITS: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };

/** Seconds of a Compose duration (`1m30s`, `10s`, `500ms`; a number is seconds). */
export function parseDuration(value: unknown): number | ValueError {
  if (typeof value === 'number' && value >= 0) return value;
  const text = String(value).trim();
  if (!/^(\d+(\.\d+)?(h|ms|us|ns|m|s))+$/.test(text))
    return { error: `"${text}" is not a duration such as 1m30s, 10s or 500ms` };
  let seconds = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|us|ns|m|s)/g))
    seconds += Number(m[1]) * (DURATION_UNITS[m[2] ?? 's'] ?? 1);
  return seconds;
}

/** A command as a list: Compose splits a string like a shell does (quotes, backslashes), without running a shell. */
export function commandList(value: unknown): string[] | ValueError {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string') return { error: 'must be a string or a list of strings' };
  const words: string[] = [];
  let word = '';
  let quote: '"' | "'" | undefined;
  let started = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < value.length) word += value[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (c === '\\' && i + 1 < value.length) {
      word += value[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) words.push(word);
      word = '';
      started = false;
    } else {
      word += c;
      started = true;
    }
  }
  if (quote) return { error: `unterminated ${quote} quote in "${value}"` };
  if (started) words.push(word);
  return words.length > 0 ? words : { error: 'must not be empty' };
}

/** A map written as a map or as a list of `KEY=VALUE` (environment, labels); values as strings. */
export function stringMap(value: unknown, what: string): Record<string, string> | ValueError {
  const out: Record<string, string> = {};
  if (Array.isArray(value)) {
    for (const entry of value) {
      const text = String(entry);
      const eq = text.indexOf('=');
      if (eq < 0)
        return {
          error: `"${text}" has no value: write ${text}=VALUE (molt does not read values from its own environment)`,
        };
      out[text.slice(0, eq)] = text.slice(eq + 1);
    }
    return out;
  }
  if (typeof value !== 'object' || value === null) return { error: `${what} must be a map or a list of KEY=VALUE` };
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined)
      return { error: `"${k}" has no value: give one (molt does not read values from its own environment)` };
    if (typeof v === 'object') return { error: `"${k}" must be a string, number or boolean` };
    out[k] = String(v);
  }
  return out;
}

/** One `ports` entry as a manifest port: short syntax as it is, long form renamed. */
export function portEntry(
  value: unknown,
): string | { target: number; published: number; hostIP?: string; protocol?: 'tcp' | 'udp' } | ValueError {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (typeof value !== 'object' || value === null) return { error: 'must be "HOST:CONTAINER" or {target, published}' };
  const p = value as Record<string, unknown>;
  const extra = Object.keys(p).filter((k) => !['target', 'published', 'host_ip', 'protocol', 'mode'].includes(k));
  if (extra.length > 0) return { error: `port key "${extra[0]}" is not supported by molt` };
  if (p.mode !== undefined && p.mode !== 'host')
    return { error: `mode "${String(p.mode)}" is not supported (only host)` };
  if (p.published === undefined)
    return { error: 'give published: the host port (molt publishes every port it is given on a fixed host port)' };
  const published = Number(p.published);
  return {
    target: Number(p.target),
    published,
    ...(p.host_ip !== undefined ? { hostIP: String(p.host_ip) } : {}),
    ...(p.protocol === 'tcp' || p.protocol === 'udp' ? { protocol: p.protocol } : {}),
  };
}

/** A `volumes` entry resolved: a named volume (Compose name, before the project prefix), a bind or a tmpfs. */
export type VolumeUse =
  | { type: 'volume'; source: string; target: string; readOnly: boolean }
  | { type: 'bind'; source: string; target: string; readOnly: boolean }
  | { type: 'tmpfs'; target: string; size?: string | number };

/** Reads one `volumes` entry (short `SRC:DST[:ro]` or long form); bind sources are resolved against `dir`. */
export function volumeEntry(value: unknown, dir: string): VolumeUse | ValueError {
  if (typeof value === 'string') {
    const [source, target, mode, ...rest] = value.split(':');
    if (target === undefined)
      return { error: `"${value}" is an anonymous volume: name it (NAME:${value}) so its data can be kept` };
    if (rest.length > 0 || (mode !== undefined && mode !== 'ro' && mode !== 'rw'))
      return { error: `"${value}": only the modes ro and rw are supported` };
    return useOf(source ?? '', target, mode === 'ro', dir);
  }
  if (typeof value !== 'object' || value === null)
    return { error: 'must be "SOURCE:TARGET[:ro]" or {type, source, target}' };
  const v = value as Record<string, unknown>;
  const extra = Object.keys(v).filter((k) => !['type', 'source', 'target', 'read_only', 'tmpfs'].includes(k));
  if (extra.length > 0) return { error: `volume key "${extra[0]}" is not supported by molt` };
  const target = String(v.target ?? '');
  if (v.type === 'tmpfs') {
    const size = (v.tmpfs as { size?: string | number } | undefined)?.size;
    return { type: 'tmpfs', target, ...(size !== undefined ? { size } : {}) };
  }
  if (v.type !== 'volume' && v.type !== 'bind')
    return { error: `volume type "${String(v.type)}" is not supported (volume, bind or tmpfs)` };
  if (v.source === undefined) return { error: 'give source: anonymous volumes cannot keep data across upgrades' };
  const use = useOf(String(v.source), target, v.read_only === true, dir);
  if ('error' in use || use.type === v.type) return use;
  return { error: `type ${String(v.type)} does not match source "${String(v.source)}"` };
}

function useOf(source: string, target: string, readOnly: boolean, dir: string): VolumeUse | ValueError {
  if (source.startsWith('~')) return { error: `"${source}": write the host path without "~"` };
  if (source.startsWith('.') || isAbsolute(source))
    return { type: 'bind', source: resolve(dir, source), target, readOnly };
  return { type: 'volume', source, target, readOnly };
}

/** `tmpfs`: a path or list of paths, each optionally `PATH:size=64m`. */
export function tmpfsEntries(value: unknown): { mountPath: string; size?: string }[] | ValueError {
  const list = Array.isArray(value) ? value.map(String) : [String(value)];
  const out: { mountPath: string; size?: string }[] = [];
  for (const entry of list) {
    const [path, options] = entry.split(':');
    const size = /(?:^|,)size=([^,]+)/.exec(options ?? '')?.[1];
    const other = (options ?? '').split(',').filter((o) => o !== '' && !o.startsWith('size='));
    if (other.length > 0) return { error: `tmpfs option "${other[0]}" is not supported (only size)` };
    out.push({ mountPath: path ?? '', ...(size ? { size } : {}) });
  }
  return out;
}

/** A Compose healthcheck as a manifest healthcheck; undefined for `disable: true` or test NONE. */
export function healthcheck(value: unknown): Record<string, unknown> | undefined | ValueError {
  if (typeof value !== 'object' || value === null)
    return { error: 'must be a map with test, interval, timeout, retries, start_period' };
  const h = value as Record<string, unknown>;
  const extra = Object.keys(h).filter(
    (k) => !['test', 'interval', 'timeout', 'retries', 'start_period', 'disable'].includes(k),
  );
  if (extra.length > 0) return { error: `healthcheck key "${extra[0]}" is not supported by molt` };
  if (h.disable === true) return undefined;
  const test = typeof h.test === 'string' ? ['CMD-SHELL', h.test] : Array.isArray(h.test) ? h.test.map(String) : [];
  if (test[0] === 'NONE') return undefined;
  let exec: string[];
  if (test[0] === 'CMD' && test.length > 1) exec = test.slice(1);
  else if (test[0] === 'CMD-SHELL' && test.length === 2) exec = ['/bin/sh', '-c', test[1] as string];
  else return { error: 'test must be ["CMD", …], ["CMD-SHELL", "…"], a string or ["NONE"]' };
  const seconds = (v: unknown, dflt: number, min: number): number | ValueError => {
    if (v === undefined) return dflt;
    const s = parseDuration(v);
    return typeof s === 'number' ? Math.max(min, Math.ceil(s)) : s;
  };
  const period = seconds(h.interval, 30, 1);
  const timeout = seconds(h.timeout, 30, 1);
  const start = seconds(h.start_period, 0, 0);
  for (const v of [period, timeout, start]) if (typeof v !== 'number') return v;
  return {
    exec,
    periodSeconds: period,
    timeoutSeconds: timeout,
    startPeriodSeconds: start,
    failureThreshold: h.retries === undefined ? 3 : Number(h.retries),
  };
}
