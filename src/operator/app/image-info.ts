/**
 * What the operator learns of an image from its registry: the digest a tag names now (pinned
 * in the template, so what was upgraded to is what runs, and what a rollback runs again) and
 * the upgrade scripts its labels declare — the same labels the local engine reads from the
 * pulled image, so one App document runs the same migrations on both engines.
 * Credentials come from the App's imagePullSecrets (dockerconfigjson, as the kubelet uses
 * them); a registry's private CA from MOLT_REGISTRY_CA (PEM files, ":"-separated) besides
 * Node's roots and NODE_EXTRA_CA_CERTS. Images under `localhost/` are Podman's name for images
 * built or loaded on a machine, not in any registry: their labels cannot be read here.
 */
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { absolutePath } from '../../core/schema.ts';
import { SCRIPT_LABEL, type AppSpec } from '../../core/model.ts';
import { ScriptError } from '../../core/errors.ts';
import type { KubeObject, ResourceApi } from '../../engines/kubernetes/index.ts';
import { RESOURCES } from '../../engines/kubernetes/index.ts';
import { credentialsFor, parseAuthConfig, type AuthConfig } from '../../engines/registry/auth.ts';
import { RegistryClient } from '../../engines/registry/client.ts';
import { isLocalImage } from '../../engines/registry/reference.ts';

/** A Secret as the API returns it. */
interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

/** What the upgrade needs of the target image. */
export interface TargetImage {
  /** The registry digest (undefined for a `localhost/` image). */
  digest?: string;
  scripts: { preUpgrade?: string; postUpgrade?: string; notification?: string };
  /** Where the scripts came from, for the Event. */
  source: 'spec' | 'labels' | 'spec (local image: labels not readable)';
}

/** Configs are content-addressed: shared across passes and namespaces (every manifest GET is still authorized per App). */
const configCache = new Map<string, Record<string, string>>();

/** The extra CAs the operator trusts for registries: Node's default store (with NODE_EXTRA_CA_CERTS) plus MOLT_REGISTRY_CA. */
function extraCa(): string[] | undefined {
  const files = (process.env.MOLT_REGISTRY_CA ?? '').split(':').filter(Boolean);
  if (!files.length) return undefined;
  const defaults =
    typeof tls.getCACertificates === 'function' ? tls.getCACertificates('default') : [...tls.rootCertificates];
  return [...defaults, ...files.map((f) => readFileSync(f, 'utf8'))];
}

/** The dockerconfigjson credentials of the App's imagePullSecrets (missing secrets are skipped, as the kubelet does). */
export async function pullCredentials(
  api: ResourceApi,
  namespace: string,
  spec: AppSpec,
  signal?: AbortSignal,
): Promise<AuthConfig[]> {
  const out: AuthConfig[] = [];
  for (const { name } of spec.imagePullSecrets ?? []) {
    const secret = await api.get<Secret>(RESOURCES.secrets, namespace, name, signal);
    const raw = secret?.data?.['.dockerconfigjson'] ?? secret?.data?.['.dockercfg'];
    if (!raw) continue;
    out.push(parseAuthConfig(Buffer.from(raw, 'base64').toString('utf8'), `Secret ${namespace}/${name}`));
  }
  return out;
}

/**
 * Resolves the target of an upgrade: its digest (or reads `pinnedDigest`'s content: a rollback
 * runs the recorded digest again) and its scripts (spec.upgrade overrides the labels).
 */
export async function resolveTarget(
  api: ResourceApi,
  namespace: string,
  spec: AppSpec,
  pinnedDigest: string | undefined,
  signal?: AbortSignal,
): Promise<TargetImage> {
  const fromSpec = pick(spec.upgrade.preUpgrade, spec.upgrade.postUpgrade, spec.upgrade.notification);
  if (isLocalImage(spec.image)) return { scripts: fromSpec, source: 'spec (local image: labels not readable)' };
  const auths = await pullCredentials(api, namespace, spec, signal);
  const ca = extraCa();
  const client = new RegistryClient({
    ...(ca ? { ca } : {}),
    cache: configCache,
    credentials: (registry, repository) => auths.map((a) => credentialsFor(a, registry, repository)).find(Boolean),
  });
  const ref = pinnedDigest ? `${spec.image.split('@')[0]}@${pinnedDigest}` : spec.image;
  const resolved = await client.resolve(ref, signal);
  const l = resolved.labels;
  const scripts = pick(
    spec.upgrade.preUpgrade ?? l[SCRIPT_LABEL.preUpgrade],
    spec.upgrade.postUpgrade ?? l[SCRIPT_LABEL.postUpgrade],
    spec.upgrade.notification ?? l[SCRIPT_LABEL.notification],
  );
  for (const [key, label] of [
    ['preUpgrade', SCRIPT_LABEL.preUpgrade],
    ['postUpgrade', SCRIPT_LABEL.postUpgrade],
    ['notification', SCRIPT_LABEL.notification],
  ] as const) {
    const path = scripts[key];
    if (path && !spec.upgrade[key] && !absolutePath.safeParse(path).success) {
      throw new ScriptError(
        'ScriptInvalid',
        `image ${spec.image} declares ${label}=${JSON.stringify(path)}, which is not an absolute path`,
        `Fix the label in the image, or set spec.upgrade.${key}.`,
      );
    }
  }
  const fromLabels = Object.keys(scripts).some((k) => !spec.upgrade[k as keyof typeof scripts]);
  return { digest: resolved.digest, scripts, source: fromLabels ? 'labels' : 'spec' };
}

function pick(preUpgrade?: string, postUpgrade?: string, notification?: string): TargetImage['scripts'] {
  return {
    ...(preUpgrade ? { preUpgrade } : {}),
    ...(postUpgrade ? { postUpgrade } : {}),
    ...(notification ? { notification } : {}),
  };
}
