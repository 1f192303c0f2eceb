/**
 * Deciding what the new container looks like (seed 002): it inherits every mount of the old
 * one and its IP; Cmd and Entrypoint follow the upgrade precedence. Pure.
 */
import { isBindMount, NO_INPUTS, runtimeSettings, type ResolvedInputs } from './settings.ts';
import {
  LABEL,
  type AppManifest,
  type ContainerObservation,
  type ContainerSpec,
  type ImageObservation,
  type MountObservation,
} from './model.ts';

/** What molt knows of the instance being replaced. */
export interface OldInstance {
  container: ContainerObservation;
  /** The old container's image; undefined when it no longer exists. */
  image: ImageObservation | undefined;
  /** The manifest the old container was created from, when molt created it. */
  manifest: AppManifest | undefined;
}

/**
 * Chooses Cmd or Entrypoint for the new container, in seed 002's order:
 * the manifest's (CMD3) > the old container's when customised (CMD1) > the new image's (CMD4).
 * The old image's default (CMD2) is never chosen. Undefined means "the new image's default".
 */
export function chooseArgv(
  fromManifest: string[] | undefined,
  old: { container: string[] | undefined; image: string[] | undefined; manifest: string[] | undefined } | undefined,
): string[] | undefined {
  if (fromManifest !== undefined) return fromManifest;
  if (old === undefined || old.container === undefined || old.container.length === 0) return undefined;
  const customised = old.image !== undefined ? !sameArgv(old.container, old.image) : old.manifest !== undefined;
  return customised ? old.container : undefined;
}

function sameArgv(a: string[] | undefined, b: string[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** The mounts of the new container: the old ones, plus the manifest's, the manifest winning per path. */
export function chooseMounts(manifest: AppManifest, old: OldInstance | undefined): MountObservation[] {
  const declared = declaredMounts(manifest.spec);
  const claimed = new Set([
    ...declared.map((m) => m.destination),
    ...(manifest.spec.tmpfs ?? []).map((t) => t.mountPath),
  ]);
  // A bind mount or tmpfs the previous manifest declared and this one dropped goes; anything
  // else of the old container (named volumes, mounts molt did not make) is inherited (seed 002).
  const dropped = old?.manifest
    ? new Set(
        [
          ...declaredMounts(old.manifest.spec).filter((m) => m.type !== 'volume'),
          ...(old.manifest.spec.tmpfs ?? []).map((t) => ({ destination: t.mountPath })),
        ].map((m) => m.destination),
      )
    : new Set<string>();
  const inherited = (old?.container.mounts ?? []).filter(
    (m) => !claimed.has(m.destination) && !(m.type !== 'volume' && dropped.has(m.destination)),
  );
  return [...inherited, ...declared];
}

/** The mounts a spec's `volumes` declare: named volumes and bind mounts. */
export function declaredMounts(spec: AppManifest['spec']): MountObservation[] {
  return spec.volumes.map((v) =>
    isBindMount(v)
      ? { type: 'bind', source: v.hostPath, destination: v.mountPath, readOnly: v.readOnly === true }
      : { type: 'volume', source: v.name, destination: v.mountPath, readOnly: v.readOnly === true },
  );
}

/** Old mounts that the manifest replaces with another source at the same path. */
export function replacedMounts(manifest: AppManifest, old: OldInstance | undefined): MountObservation[] {
  const byPath = new Map(declaredMounts(manifest.spec).map((m) => [m.destination, m.source]));
  return (old?.container.mounts ?? []).filter(
    (m) => byPath.has(m.destination) && byPath.get(m.destination) !== m.source,
  );
}

/** The full spec of the container that runs `manifest`. */
export function newContainerSpec(
  manifest: AppManifest,
  old: OldInstance | undefined,
  ip: string,
  operationId: string,
  inputs: ResolvedInputs = NO_INPUTS,
): ContainerSpec {
  const argv = (
    pick: (x: { cmd: string[] | undefined; entrypoint: string[] | undefined }) => string[] | undefined,
    fromOldManifest: string[] | undefined,
  ) => old && { container: pick(old.container), image: old.image && pick(old.image), manifest: fromOldManifest };
  const { metadata, spec } = manifest;
  return {
    name: metadata.name,
    image: spec.image,
    cmd: chooseArgv(
      spec.command,
      argv((x) => x.cmd, old?.manifest?.spec.command),
    ),
    entrypoint: chooseArgv(
      spec.entrypoint,
      argv((x) => x.entrypoint, old?.manifest?.spec.entrypoint),
    ),
    // The manifest's env wins over env files; secrets given as env win over both.
    env: { ...inputs.env, ...spec.env, ...inputs.secretEnv },
    labels: {
      ...spec.containerLabels,
      ...metadata.labels,
      [LABEL.managed]: 'true',
      [LABEL.app]: metadata.name,
      [LABEL.version]: spec.version,
      [LABEL.upgrade]: operationId,
      ...(inputs.digest ? { [LABEL.inputs]: inputs.digest } : {}),
    },
    mounts: chooseMounts(manifest, old),
    network: { name: spec.network.name, ipv4: ip, mac: macForIPv4(ip) },
    stopTimeoutSeconds: spec.stopTimeoutSeconds,
    settings: runtimeSettings(spec),
    ...(Object.keys(inputs.secretEnv).length ? { secretEnv: Object.keys(inputs.secretEnv).sort() } : {}),
    ...(spec.user !== undefined ? { user: spec.user } : {}),
    ...(inputs.files.length ? { files: inputs.files } : {}),
  };
}

/** The name the old container carries while the new one takes its name. */
export function parkedName(app: string): string {
  return `${app}.molt-old`;
}

/**
 * The MAC address molt gives a container: 02:42 followed by its IPv4 bytes (Docker's own
 * scheme). Deriving it from the kept IP keeps it across upgrades too, so neighbours' ARP
 * caches stay valid and clients see no extra downtime after the new container takes the IP.
 */
export function macForIPv4(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}
