/**
 * Compose files as molt input: the one converter from the Compose Specification to App
 * manifests. Each service becomes an App named `<project>-<service>` (project: `name:`, else
 * the file's directory), in `depends_on` order. Only the keys listed in SERVICE_KEYS and
 * TOP_KEYS are read; every other key is refused at its file:line, naming it — a key molt
 * ignored would silently change what the user runs. molt's own settings (package, version,
 * upgrade scripts, probes) go in an `x-molt` extension, per service or at the top.
 * Volumes and networks get Compose's names (`<project>_<name>`), so a project that already
 * runs under podman-compose / docker compose keeps its data. Pure: the caller reads the file.
 */
import { basename, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import {
  commandList,
  healthcheck,
  parseDuration,
  portEntry,
  stringMap,
  tmpfsEntries,
  volumeEntry,
  type ValueError,
} from './compose-values.ts';
import { packageOfImage } from './adopt.ts';
import { imageTag } from './inherit.ts';
import { InvalidInputError, type InputProblem } from './errors.ts';
import type { AppManifest } from './model.ts';
import { API_VERSION, appDocumentFor } from './schema.ts';
import { parseVersion } from './version.ts';

/** Service keys molt reads (the Compose Specification's names). */
export const SERVICE_KEYS = [
  'image',
  'command',
  'entrypoint',
  'environment',
  'env_file',
  'ports',
  'volumes',
  'networks',
  'restart',
  'healthcheck',
  'depends_on',
  'deploy',
  'user',
  'working_dir',
  'stop_signal',
  'stop_grace_period',
  'shm_size',
  'tmpfs',
  'labels',
  'secrets',
  'x-molt',
] as const;
/** Top-level keys molt reads (`version` is informational in the specification and ignored). */
const TOP_KEYS = new Set(['name', 'version', 'services', 'volumes', 'networks', 'secrets', 'x-molt']);
const X_MOLT_KEYS = new Set(['package', 'version', 'upgrade', 'probes', 'minReadySeconds', 'upgradeConfig']);
/** Why some common keys are refused, and what to do instead. */
const HINTS: Record<string, string> = {
  build: 'molt runs images: build it first (`podman build -t NAME .`) and set image: NAME',
  container_name: 'the container is named <project>-<service>',
  scale: 'a molt app runs one container; for several members use a Release',
  links: 'services reach each other by name on their network',
  network_mode: 'molt apps join one bridge network (networks:)',
};

/** One App made from a service, with where it came from. */
export interface ComposeApp {
  service: string;
  line: number;
  column?: number;
  manifest: AppManifest;
  /** The line of a manifest field, mapped to the service key it came from (`field`: that key's name). */
  locate: (path: (string | number)[]) => { line?: number; column?: number; field?: string };
}

export { looksLikeCompose } from './compose-detect.ts';

type Raw = Record<string, unknown>;

/** Converts a Compose file's text (at `file`) into Apps in depends_on order, or throws every problem with its place. */
export function composeApps(text: string, file: string): ComposeApp[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const problems: InputProblem[] = [];
  for (const e of doc.errors) {
    const { line, col } = lines.linePos(e.pos[0]);
    problems.push({ file, line, column: col, message: `YAML: ${e.message.split('\n')[0]}` });
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  const root = doc.toJS({ maxAliasCount: 100 }) as Raw;
  const pos = (path: (string | number)[], key = false) => position(doc, lines, path, key);
  const at = (path: (string | number)[], message: string, key = false) =>
    problems.push({ file, ...pos(path, key), field: fieldName(path), message });
  for (const key of Object.keys(root)) {
    if (!TOP_KEYS.has(key) && !key.startsWith('x-'))
      at(
        [key],
        `"${key}" is not supported by molt${HINTS[key] ? `: ${HINTS[key]}` : ''}; remove it (molt refuses what it would otherwise ignore)`,
        true,
      );
  }
  const dir = resolve(file === '-' ? '.' : resolve(file, '..'));
  const project = String(root.name ?? basename(dir)).toLowerCase();
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(project))
    at(
      root.name === undefined ? [] : ['name'],
      `project name "${project}" must be lowercase letters, digits, "-" and "_"${root.name === undefined ? ' (it is the directory name: set name:)' : ''}`,
    );
  const services = (root.services ?? {}) as Raw;
  const context: Context = { root, project, dir, at };
  const apps: ComposeApp[] = [];
  for (const [service, raw] of Object.entries(services)) {
    const before = problems.length;
    const object = serviceApp(context, service, (raw ?? {}) as Raw);
    if (problems.length > before || !object) continue;
    const parsed = appDocumentFor(object.manifest).safeParse(object.manifest);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
        at(
          object.sourceOf(path),
          issue.code === 'unrecognized_keys' ? `unknown field "${issue.keys[0]}"` : issue.message,
          issue.code === 'unrecognized_keys',
        );
      }
      continue;
    }
    const keyAt = pos(['services', service], true);
    apps.push({
      service,
      line: keyAt.line ?? 1,
      column: keyAt.column,
      manifest: parsed.data,
      locate: (path) => ({ ...pos(object.sourceOf(path)), field: fieldName(object.sourceOf(path)) }),
    });
  }
  const ordered = dependencyOrder(apps, project, new Set(Object.keys(services)), at);
  if (problems.length > 0) throw new InvalidInputError(problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  if (ordered.length === 0)
    throw new InvalidInputError([{ file, message: 'no services found' }], 'Add at least one service with an image.');
  return ordered;
}

interface Context {
  root: Raw;
  project: string;
  dir: string;
  at: (path: (string | number)[], message: string, key?: boolean) => void;
}

/** Compose field → the manifest field it becomes (the reverse maps problems back to their line). */
const MANIFEST_FIELD: Record<string, string> = {
  image: 'image',
  command: 'command',
  entrypoint: 'entrypoint',
  environment: 'env',
  env_file: 'envFrom',
  ports: 'ports',
  volumes: 'volumes',
  networks: 'network',
  restart: 'restart',
  healthcheck: 'healthcheck',
  depends_on: 'dependsOn',
  deploy: 'resources',
  user: 'user',
  working_dir: 'workingDir',
  stop_signal: 'stopSignal',
  stop_grace_period: 'stopTimeoutSeconds',
  shm_size: 'shmSize',
  labels: 'containerLabels',
  secrets: 'secrets',
};
const COMPOSE_FIELD = Object.fromEntries(Object.entries(MANIFEST_FIELD).map(([c, m]) => [m, c]));

/** The App document object of one service, and how to map its fields back to the file. */
function serviceApp(
  ctx: Context,
  service: string,
  svc: Raw,
): { manifest: Raw; sourceOf: (path: (string | number)[]) => (string | number)[] } | undefined {
  const base = ['services', service];
  for (const key of Object.keys(svc)) {
    if (!(SERVICE_KEYS as readonly string[]).includes(key) && !key.startsWith('x-')) {
      ctx.at(
        [...base, key],
        `"${key}" is not supported by molt${HINTS[key] ? `: ${HINTS[key]}` : ''}; remove it (molt refuses what it would otherwise ignore)`,
        true,
      );
    }
  }
  const name = `${ctx.project}-${service}`;
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name))
    ctx.at(
      base,
      `the app name "${name}" (<project>-<service>) must be a DNS label: lowercase letters, digits and "-"`,
      true,
    );
  if (typeof svc.image !== 'string') {
    ctx.at(base, 'a service needs image: (molt does not build)', true);
    return undefined;
  }
  const spec: Raw = {
    image: svc.image,
    ...identity(ctx, service, svc, svc.image),
    ...containerFields(ctx, service, svc),
  };
  spec.network = networkOf(ctx, service, svc.networks);
  Object.assign(spec, mountsOf(ctx, service, svc));
  if (svc.secrets !== undefined) spec.secrets = secretsOf(ctx, service, svc.secrets);
  if (svc.depends_on !== undefined)
    spec.dependsOn = dependencies(svc.depends_on, (m) => ctx.at([...base, 'depends_on'], m)).map(
      (d) => `${ctx.project}-${d}`,
    );
  return {
    manifest: { apiVersion: API_VERSION, kind: 'App', metadata: { name, labels: {} }, spec },
    sourceOf: sourceMapper(base, svc),
  };
}

/** package, version and molt's own settings: the service's x-molt over the file's, the image tag as the version. */
function identity(ctx: Context, service: string, svc: Raw, image: string): Raw {
  const own = svc['x-molt'] !== undefined;
  const where = (...rest: string[]) => (own ? ['services', service, 'x-molt', ...rest] : ['x-molt', ...rest]);
  const xmolt = { ...((ctx.root['x-molt'] ?? {}) as Raw), ...((svc['x-molt'] ?? {}) as Raw) };
  for (const key of Object.keys(xmolt))
    if (!X_MOLT_KEYS.has(key))
      ctx.at(
        where(key),
        `x-molt key "${key}" is not known (package, version, upgrade, probes, minReadySeconds, upgradeConfig)`,
        true,
      );
  const version = xmolt.version ?? imageTag(image);
  if (typeof version !== 'string' || parseVersion(version) === undefined) {
    const why =
      xmolt.version !== undefined
        ? `x-molt version "${String(version)}" is not a version`
        : `its image tag "${version ?? '(none)'}" is not a version`;
    ctx.at(
      xmolt.version !== undefined ? where('version') : ['services', service, 'image'],
      `cannot tell the version of ${service}: ${why}; set x-molt: {version: MAJOR.MINOR.PATCH}`,
    );
  }
  const out: Raw = { package: xmolt.package ?? packageOfImage(image), version };
  for (const k of ['upgrade', 'probes', 'minReadySeconds', 'upgradeConfig'])
    if (xmolt[k] !== undefined) out[k] = xmolt[k];
  return out;
}

/** The container fields that map one to one (command, env, ports, restart, limits, healthcheck…). */
function containerFields(ctx: Context, service: string, svc: Raw): Raw {
  const at = (key: string, message: string) => ctx.at(['services', service, key], message);
  const value = <T>(key: string, v: T | ValueError): T | undefined => {
    if (typeof v === 'object' && v !== null && 'error' in v && Object.keys(v).length === 1)
      return void at(key, (v as ValueError).error);
    return v as T;
  };
  const spec: Raw = {};
  if (svc.command !== undefined) spec.command = value('command', commandList(svc.command));
  if (svc.entrypoint !== undefined) spec.entrypoint = value('entrypoint', commandList(svc.entrypoint));
  if (svc.environment !== undefined) spec.env = value('environment', stringMap(svc.environment, 'environment'));
  if (svc.labels !== undefined) spec.containerLabels = value('labels', stringMap(svc.labels, 'labels'));
  if (svc.env_file !== undefined)
    spec.envFrom = (Array.isArray(svc.env_file) ? svc.env_file : [svc.env_file]).map((f) => ({
      file: resolve(ctx.dir, String(typeof f === 'object' && f !== null ? (f as Raw).path : f)),
    }));
  if (svc.ports !== undefined)
    spec.ports = (Array.isArray(svc.ports) ? svc.ports : [svc.ports]).map((p) => value('ports', portEntry(p)));
  for (const key of ['restart', 'user', 'working_dir', 'stop_signal'] as const)
    if (svc[key] !== undefined) spec[MANIFEST_FIELD[key] as string] = String(svc[key]);
  if (svc.shm_size !== undefined) spec.shmSize = svc.shm_size;
  if (svc.stop_grace_period !== undefined)
    spec.stopTimeoutSeconds = value('stop_grace_period', roundUp(parseDuration(svc.stop_grace_period)));
  if (svc.healthcheck !== undefined) {
    const h = value('healthcheck', healthcheck(svc.healthcheck));
    if (h) spec.healthcheck = h;
  }
  if (svc.deploy !== undefined)
    spec.resources = resourcesOf(svc.deploy, (path, m) => ctx.at(['services', service, 'deploy', ...path], m, true));
  return spec;
}

/** Maps a path in the App document to the Compose key it came from, for problems the schema finds. */
function sourceMapper(base: (string | number)[], svc: Raw): (path: (string | number)[]) => (string | number)[] {
  return (path) => {
    const [, field, ...rest] = path;
    if (path[0] !== 'spec' || typeof field !== 'string') return base;
    if (X_MOLT_KEYS.has(field))
      return svc['x-molt'] !== undefined ? [...base, 'x-molt', field, ...rest] : ['x-molt', field, ...rest];
    if (field === 'tmpfs') return [...base, svc.tmpfs !== undefined ? 'tmpfs' : 'volumes'];
    const key = COMPOSE_FIELD[field];
    return key !== undefined && svc[key] !== undefined
      ? [...base, key, ...(typeof rest[0] === 'number' ? [rest[0]] : [])]
      : base;
  };
}

function roundUp(v: number | ValueError): number | ValueError {
  return typeof v === 'number' ? Math.ceil(v) : v;
}

/** `deploy`: only resources.limits {cpus, memory, pids}; anything else is reported at its own key. */
function resourcesOf(deploy: unknown, report: (path: string[], m: string) => void): Raw | undefined {
  const d = (deploy ?? {}) as Raw;
  const other = Object.keys(d).find((k) => k !== 'resources');
  if (other)
    return void report([other], `deploy.${other} is not supported by molt (only deploy.resources.limits): remove it`);
  const r = (d.resources ?? {}) as Raw;
  const otherR = Object.keys(r).find((k) => k !== 'limits');
  if (otherR)
    return void report(
      ['resources', otherR],
      `deploy.resources.${otherR} is not supported by molt (only limits): remove it`,
    );
  const limits = (r.limits ?? {}) as Raw;
  const otherL = Object.keys(limits).find((k) => !['cpus', 'memory', 'pids'].includes(k));
  if (otherL)
    return void report(
      ['resources', 'limits', otherL],
      `deploy.resources.limits.${otherL} is not supported (cpus, memory, pids)`,
    );
  return {
    ...(limits.cpus !== undefined ? { cpus: String(limits.cpus) } : {}),
    ...(limits.memory !== undefined ? { memory: limits.memory } : {}),
    ...(limits.pids !== undefined ? { pids: Number(limits.pids) } : {}),
  };
}

/** The one network of a service: Compose's name for it, its subnet from the top level, its ipv4_address. */
function networkOf(ctx: Context, service: string, value: unknown): Raw {
  const base = ['services', service, 'networks'];
  const entries = Array.isArray(value)
    ? value.map((n) => [String(n), {} as Raw] as const)
    : Object.entries((value ?? {}) as Raw).map(([n, v]) => [n, (v ?? {}) as Raw] as const);
  if (entries.length > 1) ctx.at(base, 'molt apps join one network: list one');
  const [key, options]: readonly [string, Raw] = entries[0] ?? ['default', {}];
  const extra = Object.keys(options).find((k) => k !== 'ipv4_address');
  if (extra) ctx.at([...base, key], `network option "${extra}" is not supported (only ipv4_address)`);
  const declared = ((ctx.root.networks ?? {}) as Raw)[key] as Raw | null | undefined;
  if (key !== 'default' && declared === undefined)
    ctx.at(base, `network "${key}" is not declared under the top-level networks:`);
  const top = (declared ?? {}) as Raw;
  const badTop = Object.keys(top).find((k) => !['name', 'external', 'driver', 'ipam'].includes(k));
  if (badTop)
    ctx.at(
      ['networks', key, badTop],
      `network key "${badTop}" is not supported (name, external, driver: bridge, ipam.config[].subnet)`,
      true,
    );
  if (top.driver !== undefined && top.driver !== 'bridge')
    ctx.at(['networks', key, 'driver'], `driver "${String(top.driver)}" is not supported (only bridge)`);
  const subnet = ((top.ipam as Raw | undefined)?.config as Raw[] | undefined)?.[0]?.subnet;
  const name = typeof top.name === 'string' ? top.name : top.external === true ? key : `${ctx.project}_${key}`;
  return {
    name,
    ...(subnet !== undefined ? { subnet: String(subnet) } : {}),
    ...(options.ipv4_address !== undefined ? { ipv4: String(options.ipv4_address) } : {}),
  };
}

/** volumes and tmpfs of a service: named volumes get Compose's names, binds absolute host paths. */
function mountsOf(ctx: Context, service: string, svc: Raw): Raw {
  const volumes: Raw[] = [];
  const tmpfs: Raw[] = [];
  const topVolumes = (ctx.root.volumes ?? {}) as Raw;
  (Array.isArray(svc.volumes) ? svc.volumes : []).forEach((entry, i) => {
    const use = volumeEntry(entry, ctx.dir);
    if ('error' in use) return ctx.at(['services', service, 'volumes', i], use.error);
    if (use.type === 'tmpfs')
      return void tmpfs.push({ mountPath: use.target, ...(use.size !== undefined ? { size: use.size } : {}) });
    const ro = use.readOnly ? { readOnly: true } : {};
    if (use.type === 'bind') return void volumes.push({ hostPath: use.source, mountPath: use.target, ...ro });
    if (!(use.source in topVolumes))
      return ctx.at(
        ['services', service, 'volumes', i],
        `volume "${use.source}" is not declared under the top-level volumes:`,
      );
    const top = (topVolumes[use.source] ?? {}) as Raw;
    const bad = Object.keys(top).find(
      (k) => !['name', 'external'].includes(k) && !(k === 'driver' && top.driver === 'local'),
    );
    if (bad)
      return ctx.at(
        ['volumes', use.source, bad],
        `volume key "${bad}" is not supported (name, external, driver: local)`,
        true,
      );
    volumes.push({
      name:
        typeof top.name === 'string' ? top.name : top.external === true ? use.source : `${ctx.project}_${use.source}`,
      mountPath: use.target,
      ...ro,
    });
  });
  if (svc.tmpfs !== undefined) {
    const t = tmpfsEntries(svc.tmpfs);
    if ('error' in t) ctx.at(['services', service, 'tmpfs'], t.error);
    else tmpfs.push(...t);
  }
  return { ...(svc.volumes !== undefined ? { volumes } : {}), ...(tmpfs.length > 0 ? { tmpfs } : {}) };
}

/** Service secrets: names (or {source, target}) of top-level secrets with a file. */
function secretsOf(ctx: Context, service: string, value: unknown): Raw[] {
  const top = (ctx.root.secrets ?? {}) as Raw;
  return (Array.isArray(value) ? value : []).flatMap((entry, i) => {
    const where = ['services', service, 'secrets', i];
    const e = (typeof entry === 'object' && entry !== null ? entry : { source: entry }) as Raw;
    const bad = Object.keys(e).find((k) => k !== 'source' && k !== 'target');
    if (bad) return (ctx.at(where, `secret option "${bad}" is not supported (source, target)`), []);
    const source = String(e.source);
    const declared = top[source] as Raw | undefined;
    if (typeof declared?.file !== 'string')
      return (
        ctx.at(
          where,
          `secret "${source}" must be declared at the top level with file: (environment and external secrets are not supported)`,
        ),
        []
      );
    const target =
      e.target === undefined
        ? undefined
        : String(e.target).startsWith('/')
          ? String(e.target)
          : `/run/secrets/${String(e.target)}`;
    return [{ name: source, file: resolve(ctx.dir, declared.file), ...(target ? { mountPath: target } : {}) }];
  });
}

/** depends_on as a list of service names (list, or map with a condition molt can honour). */
function dependencies(value: unknown, report: (m: string) => void): string[] {
  if (Array.isArray(value)) return value.map(String);
  const out: string[] = [];
  for (const [name, options] of Object.entries((value ?? {}) as Raw)) {
    const condition = ((options ?? {}) as Raw).condition ?? 'service_started';
    if (condition !== 'service_started' && condition !== 'service_healthy') {
      report(
        `depends_on ${name}: condition "${String(condition)}" is not supported (service_started, service_healthy: molt starts a service once the one it depends on is ready)`,
      );
    } else out.push(name);
  }
  return out;
}

/** Apps ordered so every app comes after those it depends on; unknown services and cycles are problems. */
function dependencyOrder(
  apps: ComposeApp[],
  project: string,
  declared: ReadonlySet<string>,
  at: Context['at'],
): ComposeApp[] {
  const byName = new Map(apps.map((a) => [a.manifest.metadata.name, a]));
  const ordered: ComposeApp[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (app: ComposeApp, chain: string[]) => {
    const name = app.manifest.metadata.name;
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting')
      return at(
        ['services', app.service, 'depends_on'],
        `depends_on makes a cycle: ${[...chain, app.service].join(' → ')}; remove one of these depends_on`,
      );
    state.set(name, 'visiting');
    for (const dep of app.manifest.spec.dependsOn ?? []) {
      const target = byName.get(dep);
      if (target) visit(target, [...chain, app.service]);
      // A declared service that was refused has its own error: no second one here.
      else if (!declared.has(dep.slice(project.length + 1)))
        at(
          ['services', app.service, 'depends_on'],
          `depends on "${dep.slice(project.length + 1)}", which is not a service of this file`,
        );
    }
    state.set(name, 'done');
    ordered.push(app);
  };
  for (const app of apps) visit(app, []);
  return ordered;
}

function fieldName(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/** The line and column of the node at `path` (its key when `key`), as near as exists. */
function position(
  doc: Document,
  lines: LineCounter,
  path: (string | number)[],
  key: boolean,
): { line?: number; column?: number } {
  let node: unknown = doc.contents;
  let offset = doc.contents?.range?.[0];
  path.forEach((segment, i) => {
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === segment);
      if (!pair) return void (node = undefined);
      offset = ((last && key ? pair.key : (pair.value ?? pair.key)) as Node | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      offset = item?.range?.[0] ?? offset;
      node = item;
    } else node = undefined;
  });
  if (offset === undefined) return {};
  const p = lines.linePos(offset);
  return { line: p.line, column: p.col };
}
