/**
 * Pure translations between molt's model and the Docker Engine API's JSON, as served by
 * Docker and by Podman 4.3's compatibility layer. No I/O.
 *
 * Podman 4.3 does not show the static IP a container asked for anywhere in its inspect
 * output (compat or libpod: `IPAMConfig` is null, `IPAddress` is empty once stopped), so
 * `createBody` also records it in a label (REQUESTED_IPV4_LABEL + network) and
 * `toContainerObservation` reads it back from there (or from `IPAMConfig` on Docker).
 */
import type { ContainerObservation, ContainerSpec, ImageObservation, MountObservation } from '../../core/model.ts';
import type { NetworkObservation } from '../types.ts';
import {
  HEALTHCHECK_LABEL,
  redactSecretEnv,
  SECRET_ENV_LABEL,
  settingsBody,
  settingsOf,
  TMPFS_LABEL,
  type SettingsJson,
} from './settings-convert.ts';
import { byCodeUnit } from '../../core/order.ts';

/** Label prefix under which the driver records the static IPv4 requested per network. */
export const REQUESTED_IPV4_LABEL = 'dev.molt.requested-ipv4.';

/** The parts of GET /images/{name}/json that molt reads. */
export interface ImageJson {
  Id: string;
  RepoDigests?: string[] | null;
  Config?: {
    Cmd?: string[] | null;
    Entrypoint?: string[] | string | null;
    Labels?: Record<string, string> | null;
    Volumes?: Record<string, unknown> | null;
  } | null;
}

/** One network entry of a container, in inspect or list output. */
export interface EndpointJson {
  IPAddress?: string;
  IPAMConfig?: { IPv4Address?: string } | null;
}

/** The parts of GET /containers/{id}/json that molt reads. */
export interface ContainerJson extends SettingsJson {
  Id: string;
  Name: string;
  Image: string;
  Config: {
    Image: string;
    Cmd?: string[] | null;
    Entrypoint?: string[] | string | null;
    Env?: string[] | null;
    Labels?: Record<string, string> | null;
    Tty?: boolean;
  } & SettingsJson['Config'];
  State: { Status: string; Running: boolean; ExitCode: number; OOMKilled: boolean };
  Mounts?: Array<{ Type: string; Name?: string; Source: string; Destination: string; RW: boolean }> | null;
  NetworkSettings?: { Networks?: Record<string, EndpointJson> | null } | null;
}

/** The parts of one GET /containers/json entry that molt reads. */
export interface ContainerListJson {
  Id: string;
  Labels?: Record<string, string> | null;
  NetworkSettings?: { Networks?: Record<string, EndpointJson> | null } | null;
}

/** The parts of GET /networks/{name} that molt reads. */
export interface NetworkJson {
  Name: string;
  IPAM?: { Config?: Array<{ Subnet?: string }> | null } | null;
}

/** Podman's own network inspect output (its libpod API), the parts molt reads. */
export interface LibpodNetworkJson {
  name: string;
  subnets?: Array<{ subnet?: string }> | null;
}

/** An empty command means "none given"; Docker shows null, Podman []. */
function command(value: string[] | string | null | undefined): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  return list.length === 0 ? undefined : list;
}

/** Maps image inspect output to an ImageObservation. */
export function toImageObservation(image: ImageJson): ImageObservation {
  const config = image.Config ?? {};
  return {
    id: image.Id,
    cmd: command(config.Cmd),
    entrypoint: command(config.Entrypoint),
    labels: { ...(config.Labels ?? {}) },
    volumes: Object.keys(config.Volumes ?? {}).sort(),
    ...(image.RepoDigests?.length ? { repoDigests: [...image.RepoDigests] } : {}),
  };
}

/** Maps network inspect output to a NetworkObservation. */
export function toNetworkObservation(network: NetworkJson): NetworkObservation {
  const subnets = (network.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => !!s);
  return { name: network.Name, subnets };
}

/** Maps Podman's own network inspect output to a NetworkObservation. */
export function libpodNetworkObservation(network: LibpodNetworkJson): NetworkObservation {
  const subnets = (network.subnets ?? []).map((c) => c.subnet).filter((s): s is string => !!s);
  return { name: network.name, subnets };
}

/** Static IPv4 per network as requested at create time (Docker's IPAMConfig, else molt's label). */
export function requestedIps(
  labels: Record<string, string>,
  networks: Record<string, EndpointJson>,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (key.startsWith(REQUESTED_IPV4_LABEL) && value !== '') result[key.slice(REQUESTED_IPV4_LABEL.length)] = value;
  }
  for (const [name, endpoint] of Object.entries(networks)) {
    const ip = endpoint.IPAMConfig?.IPv4Address;
    if (ip) result[name] = ip;
  }
  return result;
}

/** Maps container inspect output to a ContainerObservation (molt's own bookkeeping labels removed). */
export function toContainerObservation(c: ContainerJson): ContainerObservation {
  const allLabels = c.Config.Labels ?? {};
  const networks = c.NetworkSettings?.Networks ?? {};
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(allLabels)) {
    if (!key.startsWith(REQUESTED_IPV4_LABEL) && key !== HEALTHCHECK_LABEL && key !== TMPFS_LABEL) labels[key] = value;
  }
  const addresses: Record<string, string> = {};
  for (const [name, endpoint] of Object.entries(networks)) {
    if (endpoint.IPAddress) addresses[name] = endpoint.IPAddress;
  }
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    image: c.Config.Image,
    imageId: c.Image,
    running: c.State.Running,
    status: c.State.Status,
    exitCode: c.State.ExitCode,
    oomKilled: c.State.OOMKilled,
    cmd: command(c.Config.Cmd),
    entrypoint: command(c.Config.Entrypoint),
    env: redactSecretEnv(c.Config.Env ?? [], allLabels[SECRET_ENV_LABEL]),
    labels,
    mounts: mountsOf(c),
    networks: addresses,
    requestedIps: requestedIps(allLabels, networks),
    settings: settingsOf(c),
    ...(c.Config.User ? { user: c.Config.User } : {}),
  };
}

/** Mounts from `Mounts`, plus tmpfs mounts that Podman lists only under HostConfig.Tmpfs. */
function mountsOf(c: ContainerJson): MountObservation[] {
  const mounts: MountObservation[] = [];
  for (const m of c.Mounts ?? []) {
    if (m.Type !== 'volume' && m.Type !== 'bind' && m.Type !== 'tmpfs') continue;
    const source = m.Type === 'volume' ? (m.Name ?? m.Source) : m.Type === 'tmpfs' ? '' : m.Source;
    mounts.push({ type: m.Type, source, destination: m.Destination, readOnly: !m.RW });
  }
  for (const [destination, options] of Object.entries(c.HostConfig?.Tmpfs ?? {})) {
    if (mounts.some((m) => m.destination === destination)) continue;
    mounts.push({ type: 'tmpfs', source: '', destination, readOnly: options.split(',').includes('ro') });
  }
  return mounts.sort((a, b) => byCodeUnit(a.destination, b.destination));
}

/** IPv4 addresses held or requested on `network` by the listed containers. */
export function addressesOn(network: string, containers: ContainerListJson[]): Set<string> {
  const result = new Set<string>();
  for (const c of containers) {
    const endpoints = c.NetworkSettings?.Networks ?? {};
    const labelled = c.Labels?.[REQUESTED_IPV4_LABEL + network];
    const endpoint = endpoints[network];
    if (!endpoint && !labelled) continue;
    if (labelled) result.add(labelled);
    if (endpoint?.IPAddress) result.add(endpoint.IPAddress);
    if (endpoint?.IPAMConfig?.IPv4Address) result.add(endpoint.IPAMConfig.IPv4Address);
  }
  return result;
}

/**
 * The body of POST /containers/create for a spec. Cmd and Entrypoint are sent only when
 * defined; note that the engines then drop the image's Cmd when only Entrypoint is given.
 */
export function createBody(spec: ContainerSpec): Record<string, unknown> {
  const settings = settingsBody(spec.settings);
  const labels = { ...spec.labels, ...settings.labels };
  if (spec.secretEnv?.length) labels[SECRET_ENV_LABEL] = spec.secretEnv.join(',');
  const network = spec.network;
  const endpoint: Record<string, unknown> = {};
  if (network?.ipv4) {
    labels[REQUESTED_IPV4_LABEL + network.name] = network.ipv4;
    endpoint.IPAMConfig = { IPv4Address: network.ipv4 };
  }
  if (network?.mac) endpoint.MacAddress = network.mac;
  const body: Record<string, unknown> = {
    Image: spec.image,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: labels,
    StopTimeout: spec.stopTimeoutSeconds,
    ...settings.config,
    HostConfig: {
      NetworkMode: network?.name ?? 'none',
      Mounts: spec.mounts.map(mountBody),
      ...settings.host,
    },
  };
  if (network) body.NetworkingConfig = { EndpointsConfig: { [network.name]: endpoint } };
  if (spec.cmd !== undefined) body.Cmd = spec.cmd;
  if (spec.entrypoint !== undefined) body.Entrypoint = spec.entrypoint;
  if (spec.user !== undefined) body.User = spec.user;
  return body;
}

function mountBody(m: MountObservation): Record<string, unknown> {
  if (m.type === 'tmpfs') return { Type: 'tmpfs', Target: m.destination, ReadOnly: m.readOnly };
  return { Type: m.type, Source: m.source, Target: m.destination, ReadOnly: m.readOnly };
}

/**
 * The bridge interface name molt gives a network: "molt" + 10 hex digits of the name's
 * SHA-256 (14 characters; Linux allows 15). Podman would otherwise number bridges podman0,
 * podman1, … per network-config directory, and two Podman instances with different
 * directories on one host would pick the same bridge.
 */
export function bridgeName(network: string): string {
  return `molt${process.getBuiltinModule('node:crypto').createHash('sha256').update(network).digest('hex').slice(0, 10)}`;
}

/** Splits an image reference into the `fromImage` and `tag` parameters of POST /images/create. */
export function pullParams(ref: string): { fromImage: string; tag?: string } {
  if (ref.includes('@')) return { fromImage: ref };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { fromImage: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { fromImage: ref, tag: 'latest' };
}

/** The error reported by one line of a pull's or build's progress stream (one JSON object per line), if any. */
export function progressError(line: string): string | undefined {
  const trimmed = line.trim();
  if (trimmed === '') return undefined;
  let event: { error?: unknown; errorDetail?: { message?: unknown } };
  try {
    event = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  const message = event.errorDetail?.message ?? event.error;
  return typeof message === 'string' && message !== '' ? message : undefined;
}
