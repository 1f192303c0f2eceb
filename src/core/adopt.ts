/**
 * `molt adopt CONTAINER`: the App manifest that describes an existing container — what the
 * user set on it, told from its image's defaults as seed 002 does — so that molt can manage
 * it from then on without restarting it. Pure: the caller inspects the engine.
 */
import { chooseArgv } from './container-spec.ts';
import { InvalidInputError } from './errors.ts';
import { userSetEnv, userSetLabels, imageTag, type ContainerDefinition, type ProcessSettings } from './inherit.ts';
import { API_VERSION } from './schema.ts';
import { parseVersion } from './version.ts';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_KEY = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;

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
  const why = given !== undefined ? `--version ${given} is not a version` : `its image ${def.image} has ${from === undefined ? 'no tag' : `the tag "${from}", which is not a version`}`;
  throw new InvalidInputError([{ file: '--version', message: `cannot tell which version ${def.name} runs: ${why}` }], 'Pass the version it runs, MAJOR.MINOR.PATCH[-RELEASE], e.g. `molt adopt ' + def.name + ' --version 1.2.3`.');
}

/** The package of an adopted container: --package, else namespace/name from its image repository. */
export function adoptedPackage(def: ContainerDefinition, given: string | undefined): string {
  if (given !== undefined) return given;
  const repo = (def.image.split('@')[0] ?? '').replace(/:[^/:]*$/, '');
  const parts = repo.split('/').map((p) => p.toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')).filter((p) => p !== '');
  const name = parts.at(-1) ?? 'app';
  const namespace = parts.length > 1 ? (parts.at(-2) ?? 'local') : 'local';
  return `${namespace}/${name}`;
}

/** The manifest that describes `def` run from an image with `image`'s settings. */
export function adoptManifest(def: ContainerDefinition, image: ProcessSettings | undefined, options: AdoptOptions): Adoption {
  if (!DNS_LABEL.test(def.name)) {
    throw new InvalidInputError([{ file: def.name, message: `container name "${def.name}" is not a DNS label (an app's name is its container's and DNS name)` }], `Rename it first: \`podman rename ${def.name} ${def.name.toLowerCase().replace(/[^a-z0-9-]/g, '-')}\` (a rename does not restart it).`);
  }
  const [network, attachment] = Object.entries(def.networks)[0] ?? [];
  if (network === undefined) {
    throw new InvalidInputError([{ file: def.name, message: 'the container is on no network molt can keep (host or none network mode)' }], 'molt apps run on a bridge network; upgrade such a container with `molt upgrade` instead.');
  }
  const inherited: string[] = [];
  const argv = (pick: (p: ProcessSettings) => string[] | undefined) => chooseArgv(undefined, { container: pick(def.process), image: image ? pick(image) : undefined, manifest: image ? undefined : pick(def.process) });
  const env: Record<string, string> = {};
  for (const [k, v] of userSetEnv(def.process.env, image?.env)) {
    if (ENV_NAME.test(k)) env[k] = v;
    else inherited.push(`env ${k}`);
  }
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(userSetLabels(def.process.labels, image?.labels))) {
    if (LABEL_KEY.test(k) && v.length <= 63) labels[k] = v;
    else inherited.push(`label ${k}`);
  }
  const raw = def.raw as { Mounts?: Array<{ Type: string; Name?: string; Destination: string }> };
  const volumes = (raw.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name).map((m) => ({ name: m.Name as string, mountPath: m.Destination }));
  for (const m of raw.Mounts ?? []) if (m.Type !== 'volume') inherited.push(`${m.Type} mount at ${m.Destination}`);
  for (const extra of Object.keys(def.networks).slice(1)) inherited.push(`network ${extra}`);
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
  };
  return { manifest: { apiVersion: API_VERSION, kind: 'App', metadata: { name: def.name, labels }, spec }, inherited };
}
