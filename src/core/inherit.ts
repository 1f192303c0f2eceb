/**
 * Seed 002's upgrade of ANY container: the new container inherits the old one's whole
 * definition; this module decides the few process settings that come from the new image
 * instead, telling what the user set on the old container from what its image supplied by
 * comparing the container with its image. Pure.
 *
 * - Cmd / Entrypoint: the request's (CMD3) > the old container's when customised, i.e.
 *   different from the old image's (CMD1) > the new image's (CMD4). The old image's (CMD2)
 *   never.
 * - Env: the new image's defaults, then the variables the user set on the old container
 *   (absent from the old image, or with another value there), then the request's.
 * - WorkingDir, User, StopSignal: the request's > the old container's when the user set it >
 *   the new image's.
 * - Labels: the user's labels (not equal to the old image's) are kept; the engine adds the
 *   new image's. molt's own bookkeeping labels (dev.molt.*) are never inherited.
 */
import { chooseArgv } from './container-spec.ts';
import { UpgradeRefusedError } from './errors.ts';
import type { AppManifest, ContainerSpec, MountObservation } from './model.ts';
import type { RuntimeSettings } from './settings.ts';

/** The process settings of a container or an image, as the engine shows them. */
export interface ProcessSettings {
  cmd?: string[];
  entrypoint?: string[];
  /** `KEY=value` entries. */
  env: string[];
  workingDir?: string;
  user?: string;
  stopSignal?: string;
  labels: Record<string, string>;
}

/** One network a container is attached to. */
export interface NetworkAttachment {
  /** The address it holds (or asked for); undefined while unknown (stopped on Podman, not pinned). */
  ipv4?: string;
  mac?: string;
  /** True when the address was asked for at create time (static). */
  static: boolean;
}

/**
 * Everything the engine holds about one container: what the core reads (process settings,
 * networks) and the engine's own full definition (`raw`), kept verbatim in the journal so the
 * very same container can be made again. The core never looks inside `raw`.
 */
export interface ContainerDefinition {
  id: string;
  name: string;
  /** The image reference it was created from. */
  image: string;
  imageId: string;
  running: boolean;
  process: ProcessSettings;
  networks: Record<string, NetworkAttachment>;
  stopTimeoutSeconds?: number;
  /** Its mounts (named volumes, binds, tmpfs). */
  mounts: MountObservation[];
  /** Ports, restart policy, limits… as the engine reports them. */
  settings: RuntimeSettings;
  raw: unknown;
}

/** What an upgrade asks for beyond the new image (seed 002's request, or a manifest's fields). */
export interface InheritRequest {
  image: string;
  cmd?: string[];
  entrypoint?: string[];
  /** Variables set on top of the inherited ones. */
  env?: Record<string, string>;
  /** When set, the user's variables are exactly these (a manifest owns the whole env). */
  envExact?: boolean;
  labels?: Record<string, string>;
  /** Label keys to drop from the inherited ones (removed from a manifest since last time). */
  unsetLabels?: string[];
  workingDir?: string;
  user?: string;
  stopSignal?: string;
}

/** What changes besides the process settings when a container is made again from a definition. */
export interface DefinitionChanges {
  /** Address and MAC per network; networks not named keep what the old container had (pinned). */
  networks?: Record<string, { ipv4?: string; mac?: string }>;
  /** Mounts to have at their destinations; those equal to the old container's keep their old form (options included). */
  mounts?: MountObservation[];
  /** Settings a manifest declares (ports, restart, limits, tmpfs, healthcheck…): they replace the old container's. */
  settings?: RuntimeSettings;
  /** Names of env entries that hold secrets (never reported back). */
  secretEnv?: string[];
}

/** The process settings of the new container; undefined means "the new image's default". */
export type InheritedProcess = ProcessSettings & { image: string };

/** Variables the engines add to every container themselves; never counted as the user's. */
const ENGINE_ENV = new Set(['container', 'HOSTNAME', 'HOME', 'TERM']);
/** Labels molt keeps for itself; they are written fresh on every container molt creates. */
const MOLT_LABEL_PREFIX = 'dev.molt.';

/** Decides the new container's process settings (see the module comment). */
export function inheritProcess(
  old: ProcessSettings,
  oldImage: ProcessSettings | undefined,
  newImage: ProcessSettings,
  request: InheritRequest,
): InheritedProcess {
  const argv = (pick: (p: ProcessSettings) => string[] | undefined, requested: string[] | undefined) =>
    chooseArgv(requested, {
      container: pick(old),
      image: oldImage ? pick(oldImage) : undefined,
      manifest: oldImage ? undefined : pick(old),
    });
  const env = new Map(parseEnv(newImage.env));
  const userEnv = request.envExact ? new Map<string, string>() : userSetEnv(old.env, oldImage?.env);
  for (const [k, v] of [...userEnv, ...Object.entries(request.env ?? {})]) env.set(k, v);
  const labels = userSetLabels(old.labels, oldImage?.labels);
  for (const k of request.unsetLabels ?? []) delete labels[k];
  Object.assign(labels, request.labels ?? {});
  return {
    image: request.image,
    cmd: argv((p) => p.cmd, request.cmd),
    entrypoint: argv((p) => p.entrypoint, request.entrypoint),
    env: [...env].map(([k, v]) => `${k}=${v}`),
    workingDir: request.workingDir ?? userSetting(old.workingDir, oldImage?.workingDir, '/'),
    user: request.user ?? userSetting(old.user, oldImage?.user, ''),
    stopSignal: request.stopSignal ?? userSignal(old.stopSignal, oldImage?.stopSignal),
    labels,
  };
}

/** The variables the user set on a container: not in its image, or with another value; engine-added ones left out. */
export function userSetEnv(containerEnv: string[], imageEnv: string[] | undefined): Map<string, string> {
  const image = new Map(parseEnv(imageEnv ?? []));
  const result = new Map<string, string>();
  for (const [k, v] of parseEnv(containerEnv)) {
    if (ENGINE_ENV.has(k) || image.get(k) === v) continue;
    result.set(k, v);
  }
  return result;
}

/** The labels the user set on a container: not equal to its image's; molt's own left out. */
export function userSetLabels(
  container: Record<string, string>,
  image: Record<string, string> | undefined,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [k, v] of Object.entries(container)) {
    if (k.startsWith(MOLT_LABEL_PREFIX) || image?.[k] === v) continue;
    result[k] = v;
  }
  return result;
}

/** The working dir, user and stop signal the user set on a container (not its image's nor the engine's defaults). */
export function userSetProcess(
  container: ProcessSettings,
  image: ProcessSettings | undefined,
): { workingDir?: string; user?: string; stopSignal?: string } {
  const workingDir = userSetting(container.workingDir, image?.workingDir, '/');
  const user = userSetting(container.user, image?.user, '');
  const stopSignal = userSignal(container.stopSignal, image?.stopSignal);
  return {
    ...(workingDir ? { workingDir } : {}),
    ...(user ? { user } : {}),
    ...(stopSignal ? { stopSignal: `SIG${signalName(stopSignal)}` } : {}),
  };
}

/** `KEY=value` entries as pairs (a bare `KEY` is an empty value). */
export function parseEnv(entries: string[]): [string, string][] {
  return entries.map((e) => {
    const i = e.indexOf('=');
    return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
  });
}

/** The container's value when the user set it (differs from the image's and from the engine's default), else undefined. */
function userSetting(
  container: string | undefined,
  image: string | undefined,
  engineDefault: string,
): string | undefined {
  const c = container ?? '';
  const i = image ?? '';
  if (c === i || (i === '' && c === engineDefault)) return undefined;
  return container;
}

const SIGNAL_NUMBERS: Record<string, string> = {
  '1': 'HUP',
  '2': 'INT',
  '3': 'QUIT',
  '9': 'KILL',
  '10': 'USR1',
  '12': 'USR2',
  '15': 'TERM',
  '28': 'WINCH',
};

/** A signal name without "SIG", numbers named: "15", "SIGTERM" and "TERM" are the same. */
export function signalName(s: string | undefined): string {
  const v = (s ?? '').toUpperCase().replace(/^SIG/, '');
  return SIGNAL_NUMBERS[v] ?? v;
}

function userSignal(container: string | undefined, image: string | undefined): string | undefined {
  const c = signalName(container);
  const i = signalName(image);
  if (c === '' || c === i || (i === '' && c === 'TERM')) return undefined;
  return container;
}

/** The label on containers molt made from an old container's definition: their upgrades inherit it too. */
export const INHERIT_LABEL = 'dev.molt.inherit';

/** What an operation that inherits a container's definition journals up front. */
export interface InheritPlan {
  definition: ContainerDefinition;
  /** The old container's image's settings; undefined when the image is gone. */
  oldImage?: ProcessSettings;
  /**
   * True for `molt upgrade CONTAINER` on a container that is not a molt app: the request is
   * the command line's (image, Cmd, Entrypoint) and no app is recorded. False for an app (an
   * adopted container): its manifest is the request and owns env, labels and volumes.
   */
  standalone: boolean;
}

/** True when a container must be upgraded by inheriting its definition: molt did not create it from a manifest alone. */
export function inheritsDefinition(labels: Record<string, string>): boolean {
  return labels['dev.molt.upgrade-id'] === undefined || labels[INHERIT_LABEL] !== undefined;
}

/**
 * The request an operation makes: the command line's (standalone), or the manifest's — whose
 * env (with env files and secrets: `container.env`), labels, user, working dir and stop
 * signal are the user's settings.
 */
export function requestOf(
  manifest: AppManifest,
  previous: AppManifest | undefined,
  standalone: boolean,
  container?: ContainerSpec,
): InheritRequest {
  const { spec, metadata } = manifest;
  const argv = {
    ...(spec.command ? { cmd: spec.command } : {}),
    ...(spec.entrypoint ? { entrypoint: spec.entrypoint } : {}),
  };
  if (standalone) return { image: spec.image, ...argv };
  const labelsOf = (m: AppManifest | undefined) => ({ ...m?.spec.containerLabels, ...m?.metadata.labels });
  const labels = labelsOf(manifest);
  const unsetLabels = Object.keys(labelsOf(previous)).filter((k) => !(k in labels));
  return {
    image: spec.image,
    ...argv,
    env: container?.env ?? spec.env,
    envExact: true,
    labels,
    unsetLabels,
    ...(spec.user !== undefined ? { user: spec.user } : {}),
    ...(spec.workingDir !== undefined ? { workingDir: spec.workingDir } : {}),
    ...(spec.stopSignal !== undefined ? { stopSignal: spec.stopSignal } : {}),
  };
}

/** Refuses an upgrade to the image the container already runs (pouch: "image not changed"). */
export function requireImageChange(container: ContainerDefinition, newImageId: string, newImage: string): void {
  if (container.imageId === newImageId) {
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `image not changed: ${container.name} already runs ${newImage} (${newImageId.replace(/^sha256:/, '').slice(0, 12)})`,
      'Pass another image with --image; to re-create the container with the same image, remove and run it again.',
    );
  }
}

/**
 * The version a container runs, for upgrade scripts and history: molt's label when it has
 * one, else the image tag (the part after the last ":" that is not part of a registry port).
 */
export function versionOfImage(image: string, labels: Record<string, string> = {}): string {
  return labels['dev.molt.version'] ?? imageTag(image) ?? 'latest';
}

/** The tag of an image reference, if it has one (`registry:5000/a/b:1.2` → `1.2`). */
export function imageTag(image: string): string | undefined {
  const ref = image.split('@')[0] ?? image;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? ref.slice(colon + 1) : undefined;
}
