/**
 * Pure translations for seed 002's upgrade of any container through the Docker Engine API:
 * container inspect → ContainerDefinition (the full Config / HostConfig / networks, kept
 * verbatim), and a definition plus the core's decision → the body of POST /containers/create
 * for the new container. Everything not decided by the core is copied as it was: mounts,
 * published ports, restart policy, resources, devices, capabilities, log config, hostname…
 */
import type {
  ContainerDefinition,
  DefinitionChanges,
  InheritedProcess,
  NetworkAttachment,
  ProcessSettings,
} from '../../core/inherit.ts';
import type { MountObservation } from '../../core/model.ts';
import { REQUESTED_IPV4_LABEL, requestedIps } from './convert.ts';
import { SECRET_ENV_LABEL, settingsBody, settingsOf, type SettingsJson } from './settings-convert.ts';
import { byCodeUnit } from '../../core/order.ts';

/** The parts of container inspect output a definition keeps. */
export interface RawDefinition {
  Id: string;
  Name: string;
  Image: string;
  Config: Record<string, unknown> & { Image: string; Labels?: Record<string, string> | null };
  HostConfig?: Record<string, unknown> | null;
  NetworkSettings?: { Networks?: Record<string, RawEndpoint> | null } | null;
  Mounts?: Array<{ Type: string; Name?: string; Source: string; Destination: string; RW: boolean }> | null;
  State?: { Running?: boolean } | null;
}

/** One network entry of container inspect output. */
export interface RawEndpoint {
  IPAddress?: string;
  MacAddress?: string;
  Aliases?: string[] | null;
  IPAMConfig?: { IPv4Address?: string } | null;
}

/** The parts of image inspect output that seed 002 compares with. */
export interface RawImage {
  Config?: {
    Cmd?: string[] | null;
    Entrypoint?: string[] | string | null;
    Env?: string[] | null;
    WorkingDir?: string;
    User?: string;
    StopSignal?: string;
    Labels?: Record<string, string> | null;
  } | null;
}

/** HostConfig fields that describe the old container's instance rather than its settings, or that Podman reports but refuses back. */
const INSTANCE_HOST_FIELDS = ['ContainerIDFile', 'ConsoleSize'];

function argv(value: string[] | string | null | undefined): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  return list.length === 0 ? undefined : list;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The process settings of container inspect output. */
export function containerProcess(raw: RawDefinition): ProcessSettings {
  const c = raw.Config;
  const labels = Object.fromEntries(
    Object.entries(c.Labels ?? {}).filter(([k]) => !k.startsWith(REQUESTED_IPV4_LABEL)),
  );
  return {
    cmd: argv(c.Cmd as string[] | null),
    entrypoint: argv(c.Entrypoint as string[] | null),
    env: (c.Env as string[] | null) ?? [],
    workingDir: text(c.WorkingDir),
    user: text(c.User),
    stopSignal: text(c.StopSignal),
    labels,
  };
}

/** The process settings of image inspect output. */
export function imageProcess(image: RawImage): ProcessSettings {
  const c = image.Config ?? {};
  return {
    cmd: argv(c.Cmd),
    entrypoint: argv(c.Entrypoint),
    env: c.Env ?? [],
    workingDir: text(c.WorkingDir),
    user: text(c.User),
    stopSignal: text(c.StopSignal),
    labels: { ...(c.Labels ?? {}) },
  };
}

/** Container inspect output → a definition (the raw parts kept verbatim for the journal). */
export function toDefinition(raw: RawDefinition): ContainerDefinition {
  const endpoints = raw.NetworkSettings?.Networks ?? {};
  const requested = requestedIps(raw.Config.Labels ?? {}, endpoints);
  const networks: Record<string, NetworkAttachment> = {};
  for (const [name, e] of Object.entries(endpoints)) {
    const ipv4 = requested[name] ?? text(e.IPAddress);
    networks[name] = {
      ...(ipv4 ? { ipv4 } : {}),
      ...(text(e.MacAddress) ? { mac: e.MacAddress } : {}),
      static: requested[name] !== undefined,
    };
  }
  const stop = raw.Config.StopTimeout;
  return {
    id: raw.Id,
    name: raw.Name.replace(/^\//, ''),
    image: raw.Config.Image,
    imageId: raw.Image,
    running: raw.State?.Running === true,
    process: containerProcess(raw),
    networks,
    ...(typeof stop === 'number' ? { stopTimeoutSeconds: stop } : {}),
    mounts: mountsOfRaw(raw),
    settings: settingsOf(raw as unknown as SettingsJson),
    raw: {
      Id: raw.Id,
      Name: raw.Name,
      Image: raw.Image,
      Config: raw.Config,
      HostConfig: raw.HostConfig ?? {},
      NetworkSettings: { Networks: endpoints },
      Mounts: raw.Mounts ?? [],
    },
  };
}

/**
 * The create body of the new container: the old definition with the decided process settings,
 * every network pinned to its address and MAC (a dynamically assigned address becomes static,
 * so the container keeps it), and the given mounts where they differ from the old ones.
 */
export function cloneBody(
  def: ContainerDefinition,
  process: InheritedProcess,
  changes: DefinitionChanges = {},
): Record<string, unknown> {
  const raw = def.raw as RawDefinition;
  const config: Record<string, unknown> = { ...raw.Config };
  for (const key of ['Cmd', 'Entrypoint', 'WorkingDir', 'User', 'StopSignal', 'Env', 'Labels', 'OnBuild'])
    delete config[key];
  const labels: Record<string, string> = { ...process.labels };
  const { mode, endpoints } = networking(def, raw, changes);
  for (const [name, e] of Object.entries(endpoints)) {
    const ip = (e.IPAMConfig as { IPv4Address?: string } | undefined)?.IPv4Address;
    if (ip) labels[REQUESTED_IPV4_LABEL + name] = ip;
  }
  const set = (key: string, value: unknown) => {
    if (value !== undefined) config[key] = value;
  };
  config.Image = process.image;
  config.Env = process.env;
  config.Labels = labels;
  set('Cmd', process.cmd);
  set('Entrypoint', process.entrypoint);
  set('WorkingDir', process.workingDir);
  set('User', process.user);
  set('StopSignal', process.stopSignal);
  const host: Record<string, unknown> = { ...(raw.HostConfig ?? {}) };
  for (const key of INSTANCE_HOST_FIELDS) delete host[key];
  if (host.Runtime === 'oci') delete host.Runtime;
  // Podman shows ulimits as RLIMIT_NOFILE but takes (like Docker) nofile.
  if (Array.isArray(host.Ulimits))
    host.Ulimits = (host.Ulimits as Array<{ Name: string }>).map((u) => ({
      ...u,
      Name: u.Name.replace(/^RLIMIT_/, '').toLowerCase(),
    }));
  if (mode !== undefined) host.NetworkMode = mode;
  applyMounts(host, raw, changes.mounts);
  if (changes.settings) {
    // What a manifest declares replaces the old container's (the same converter as createBody).
    const declared = settingsBody(changes.settings);
    Object.assign(config, declared.config);
    Object.assign(host, declared.host);
    Object.assign(labels, declared.labels);
  }
  if (changes.secretEnv?.length) labels[SECRET_ENV_LABEL] = changes.secretEnv.join(',');
  return {
    ...config,
    HostConfig: host,
    ...(Object.keys(endpoints).length > 0 ? { NetworkingConfig: { EndpointsConfig: endpoints } } : {}),
  };
}

/** Network mode and endpoints: every attached network with its address and MAC pinned. */
function networking(
  def: ContainerDefinition,
  raw: RawDefinition,
  changes: DefinitionChanges,
): { mode?: string; endpoints: Record<string, Record<string, unknown>> } {
  const endpoints: Record<string, Record<string, unknown>> = {};
  const shortId = def.id.slice(0, 12);
  for (const [name, attachment] of Object.entries(def.networks)) {
    const wanted = changes.networks?.[name];
    const ipv4 = wanted?.ipv4 ?? attachment.ipv4;
    const mac = wanted?.mac ?? attachment.mac;
    const aliases = (raw.NetworkSettings?.Networks?.[name]?.Aliases ?? []).filter((a) => a !== shortId && a !== def.id);
    endpoints[name] = {
      ...(ipv4 ? { IPAMConfig: { IPv4Address: ipv4 } } : {}),
      ...(mac ? { MacAddress: mac } : {}),
      ...(aliases.length > 0 ? { Aliases: aliases } : {}),
    };
  }
  const mode = String(raw.HostConfig?.NetworkMode ?? '');
  const names = Object.keys(endpoints);
  // "bridge"/"default" name the engine's default network; a container on a user network shows
  // them too (Podman), so the first attached network is named explicitly.
  const generic = mode === '' || mode === 'bridge' || mode === 'default';
  return { mode: generic && names[0] !== undefined ? names[0] : undefined, endpoints };
}

/** The mounts of inspect output: `Mounts`, plus the tmpfs mounts Podman lists only under HostConfig.Tmpfs. */
function mountsOfRaw(raw: RawDefinition): MountObservation[] {
  const out: MountObservation[] = [];
  for (const m of raw.Mounts ?? []) {
    if (m.Type !== 'volume' && m.Type !== 'bind' && m.Type !== 'tmpfs') continue;
    out.push({
      type: m.Type,
      source: m.Type === 'volume' ? (m.Name ?? m.Source) : m.Type === 'tmpfs' ? '' : m.Source,
      destination: m.Destination,
      readOnly: !m.RW,
    });
  }
  for (const [destination, options] of Object.entries(
    (raw.HostConfig?.Tmpfs as Record<string, string> | null | undefined) ?? {},
  )) {
    if (!out.some((o) => o.destination === destination))
      out.push({ type: 'tmpfs', source: '', destination, readOnly: options.split(',').includes('ro') });
  }
  return out.sort((a, b) => byCodeUnit(a.destination, b.destination));
}

/** Replaces the old mounts at the destinations of `mounts` that differ from them; keeps the rest in their old form. */
function applyMounts(host: Record<string, unknown>, raw: RawDefinition, mounts: MountObservation[] | undefined): void {
  if (!mounts) return;
  const old = mountsOfRaw(raw);
  const changed = mounts.filter(
    (m) =>
      !old.some(
        (o) =>
          o.type === m.type &&
          o.destination === m.destination &&
          (m.type === 'tmpfs' || o.source === m.source) &&
          o.readOnly === m.readOnly,
      ),
  );
  if (changed.length === 0) return;
  const targets = new Set(changed.map((m) => m.destination));
  const binds = (host.Binds as string[] | null | undefined) ?? [];
  host.Binds = binds.filter((b) => !targets.has(b.split(':')[1] ?? ''));
  const tmpfs = { ...((host.Tmpfs as Record<string, string> | null | undefined) ?? {}) };
  for (const t of targets) delete tmpfs[t];
  host.Tmpfs = tmpfs;
  const kept = ((host.Mounts as Array<{ Target?: string }> | null | undefined) ?? []).filter(
    (m) => !targets.has(m.Target ?? ''),
  );
  host.Mounts = [
    ...kept,
    ...changed.map((m) =>
      m.type === 'tmpfs'
        ? { Type: 'tmpfs', Target: m.destination, ReadOnly: m.readOnly }
        : { Type: m.type, Source: m.source, Target: m.destination, ReadOnly: m.readOnly },
    ),
  ];
}
