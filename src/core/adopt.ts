/**
 * `molt adopt CONTAINER`: the App manifest that describes an existing container — what the
 * user set on it, told from its image's defaults as seed 002 does — so that molt can manage
 * it from then on without restarting it. Pure: the caller inspects the engine. What the
 * manifest cannot spell out (devices, capabilities, log config, extra networks…) is listed;
 * upgrades keep it anyway, from the container's definition.
 */
import { chooseArgv } from './container-spec.ts';
import { InvalidInputError } from './errors.ts';
import {
  imageTag,
  userSetEnv,
  userSetLabels,
  userSetProcess,
  type ContainerDefinition,
  type ProcessSettings,
} from './inherit.ts';
import { API_VERSION } from './schema.ts';
import { formatPort, formatRestart, type RuntimeSettings } from './settings.ts';
import { parseVersion } from './version.ts';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CONTAINER_LABEL = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,252}$/;
/** /dev/shm sizes the engines give when none is asked for (Podman, Docker). */
const DEFAULT_SHM = new Set([65536000, 67108864]);

/** What the user passed to `molt adopt`. */
export interface AdoptOptions {
  package?: string;
  version?: string;
}

/** The manifest (a plain object, validated by the caller through the schema) and what it leaves to the inherited definition. */
export interface Adoption {
  manifest: Record<string, unknown>;
  /** Settings of the container the manifest does not spell out; upgrades keep them from the container's definition. */
  inherited: string[];
}

/** The version an adopted container runs: --version, else its image tag when that is a version. */
export function adoptedVersion(def: ContainerDefinition, given: string | undefined): string {
  const from = given ?? imageTag(def.image);
  if (from !== undefined && parseVersion(from) !== undefined) return from;
  const why =
    given !== undefined
      ? `--version ${given} is not a version`
      : `its image ${def.image} has ${from === undefined ? 'no tag' : `the tag "${from}", which is not a version`}`;
  throw new InvalidInputError(
    [{ file: '--version', message: `cannot tell which version ${def.name} runs: ${why}` }],
    `Pass the version it runs, MAJOR.MINOR.PATCH[-RELEASE], e.g. \`molt adopt ${def.name} --version 1.2.3\`.`,
  );
}

/** The package of an adopted container: --package, else namespace/name from its image repository. */
export function adoptedPackage(def: ContainerDefinition, given: string | undefined): string {
  return given ?? packageOfImage(def.image);
}

/** namespace/name from an image repository (`registry/ns/name:tag` → ns/name; a bare name → local/name). */
export function packageOfImage(image: string): string {
  const repo = (image.split('@')[0] ?? '').replace(/:[^/:]*$/, '');
  const parts = repo
    .split('/')
    .map((p) =>
      p
        .toLowerCase()
        .replace(/[^a-z0-9._-]/g, '-')
        .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, ''),
    )
    .filter((p) => p !== '');
  const name = parts.at(-1) ?? 'app';
  const namespace = parts.length > 1 ? (parts.at(-2) ?? 'local') : 'local';
  return `${namespace}/${name}`;
}

/** The manifest that describes `def`, run from an image with `image`'s settings. */
export function adoptManifest(
  def: ContainerDefinition,
  image: ProcessSettings | undefined,
  options: AdoptOptions,
): Adoption {
  if (!DNS_LABEL.test(def.name)) {
    throw new InvalidInputError(
      [
        {
          file: def.name,
          message: `container name "${def.name}" is not a DNS label (an app's name is its container's and DNS name)`,
        },
      ],
      `Give it an app name: \`molt adopt ${def.name} --name ${def.name.toLowerCase().replace(/[^a-z0-9-]/g, '-')}\` (the container is renamed; a rename does not restart it).`,
    );
  }
  const [network, attachment] = Object.entries(def.networks)[0] ?? [];
  if (network === undefined) {
    throw new InvalidInputError(
      [{ file: def.name, message: 'the container is on no network molt can keep (host or none network mode)' }],
      'molt apps run on a bridge network; upgrade such a container with `molt upgrade` instead.',
    );
  }
  const inherited: string[] = Object.keys(def.networks)
    .slice(1)
    .map((n) => `network ${n}`);
  const argv = (pick: (p: ProcessSettings) => string[] | undefined) =>
    chooseArgv(undefined, {
      container: pick(def.process),
      image: image ? pick(image) : undefined,
      manifest: image ? undefined : pick(def.process),
    });
  const env: Record<string, string> = {};
  for (const [k, v] of userSetEnv(def.process.env, image?.env)) {
    if (ENV_NAME.test(k)) env[k] = v;
    else inherited.push(`env ${k}`);
  }
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(userSetLabels(def.process.labels, image?.labels))) {
    if (CONTAINER_LABEL.test(k)) labels[k] = v;
    else inherited.push(`label ${k}`);
  }
  const volumes = def.mounts.flatMap((m): Record<string, unknown>[] => {
    const ro = m.readOnly ? { readOnly: true } : {};
    if (m.type === 'volume') return [{ name: m.source, mountPath: m.destination, ...ro }];
    if (m.type === 'bind') return [{ hostPath: m.source, mountPath: m.destination, ...ro }];
    return [];
  });
  const cmd = argv((p) => p.cmd);
  const entrypoint = argv((p) => p.entrypoint);
  const stop = def.stopTimeoutSeconds;
  const spec: Record<string, unknown> = {
    package: adoptedPackage(def, options.package),
    version: adoptedVersion(def, options.version),
    image: def.image,
    ...(cmd ? { command: cmd } : {}),
    ...(entrypoint ? { entrypoint } : {}),
    env,
    volumes,
    network: { name: network, ...(attachment?.ipv4 ? { ipv4: attachment.ipv4 } : {}) },
    ...(stop !== undefined && Number.isInteger(stop) && stop >= 0 && stop <= 3600 ? { stopTimeoutSeconds: stop } : {}),
    ...settingsFields(def.settings, inherited),
    ...userSetProcess(def.process, image),
    ...(Object.keys(labels).length > 0 ? { containerLabels: labels } : {}),
  };
  return {
    manifest: { apiVersion: API_VERSION, kind: 'App', metadata: { name: def.name, labels: {} }, spec },
    inherited,
  };
}

/** The manifest fields of the engine-reported settings; what they cannot say goes to `inherited`. */
function settingsFields(s: RuntimeSettings, inherited: string[]): Record<string, unknown> {
  const resources: Record<string, unknown> = {};
  if (s.memoryBytes !== undefined) resources.memory = s.memoryBytes;
  if (s.nanoCpus !== undefined) resources.cpus = String(s.nanoCpus / 1e9);
  // Podman gives every container a pids limit (2048) of its own; the inherited one is kept.
  if (s.pidsLimit !== undefined) inherited.push(`pids limit ${s.pidsLimit}`);
  const health = s.healthcheck;
  return {
    ...(s.ports.length > 0 ? { ports: s.ports.map(formatPort) } : {}),
    restart: formatRestart(s.restart),
    ...(Object.keys(resources).length > 0 ? { resources } : {}),
    ...(s.shmSizeBytes !== undefined && !DEFAULT_SHM.has(s.shmSizeBytes) ? { shmSize: s.shmSizeBytes } : {}),
    ...(s.tmpfs.length > 0
      ? { tmpfs: s.tmpfs.map((t) => ({ mountPath: t.mountPath, ...(t.sizeBytes ? { size: t.sizeBytes } : {}) })) }
      : {}),
    ...(health
      ? {
          healthcheck: {
            ...health,
            periodSeconds: Math.max(1, health.periodSeconds),
            timeoutSeconds: Math.max(1, health.timeoutSeconds),
          },
        }
      : {}),
  };
}
