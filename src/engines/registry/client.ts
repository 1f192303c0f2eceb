/**
 * A small OCI distribution client: what an image reference resolves to (its digest) and its
 * config's labels, read from the registry without pulling any layer — how the operator learns
 * the upgrade scripts a new version declares (image labels), as the local engine learns them
 * from the image it pulled.
 *
 * GET /v2/NAME/manifests/REF with every manifest type in Accept; the digest is the answer's
 * Docker-Content-Digest (checked against the body's sha256); an OCI index / Docker manifest list
 * names one manifest per platform (linux/amd64 here: the node's) → that manifest's
 * config.digest → GET /v2/NAME/blobs/DIGEST → config.Labels. A 401 names the scheme:
 * `Basic` (the credentials as they are) or `Bearer realm,service,scope` (a token fetched from
 * the realm with those credentials). A custom CA is added to Node's roots. Configs are cached
 * by manifest digest (content-addressed: they never change).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { rootCertificates } from 'node:tls';
import type { Credentials } from './auth.ts';
import { RegistryError } from './errors.ts';
import { parseReference, registryBaseUrl, type ImageReference } from './reference.ts';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;
const ACCEPT = Object.values(MEDIA).join(', ');
const MAX_DOC = 4 * 1024 * 1024;

/** What a reference resolved to. */
export interface ResolvedImage {
  /** The digest of what the reference names (the index when there is one): pin with `repo@digest`. */
  digest: string;
  /** The digest of the platform's image manifest. */
  manifestDigest: string;
  /** The image config's labels. */
  labels: Record<string, string>;
}

/** How the client finds credentials, trust and the platform. */
export interface RegistryClientOptions {
  /** Credentials for a registry and repository (e.g. from an imagePullSecret). */
  credentials?: (registry: string, repository: string) => Credentials | undefined;
  /** Extra CA certificates (PEM) trusted besides Node's roots. */
  ca?: string[];
  /** The platform picked from an index. @default linux/amd64 (arm64 on arm64 hosts) */
  platform?: { os: string; architecture: string };
  /** Milliseconds one request may take. @default 30000 */
  timeoutMs?: number;
  /** A config cache (manifest digest → labels) shared between clients; content-addressed, so never stale. */
  cache?: Map<string, Record<string, string>>;
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

interface ManifestDoc {
  mediaType?: string;
  manifests?: { digest: string; mediaType?: string; platform?: { os?: string; architecture?: string } }[];
  config?: { digest: string };
}

/** Reads manifests and configs from registries (one instance may serve many). */
export class RegistryClient {
  readonly #opts: RegistryClientOptions;
  readonly #ca: string[] | undefined;
  /** Manifest digest → labels. */
  readonly #configs: Map<string, Record<string, string>>;
  /** "registry repository" → Authorization header value that worked. */
  readonly #tokens = new Map<string, string>();

  constructor(opts: RegistryClientOptions = {}) {
    this.#opts = opts;
    this.#configs = opts.cache ?? new Map();
    this.#ca = opts.ca?.length ? [...rootCertificates, ...opts.ca] : undefined;
  }

  /** The digest and labels of `ref` (a tag or a digest reference). */
  async resolve(ref: string, signal?: AbortSignal): Promise<ResolvedImage> {
    let image: ImageReference;
    try {
      image = parseReference(ref);
    } catch (e) {
      throw new RegistryError('ImageReferenceInvalid', ref, (e as Error).message);
    }
    const top = await this.#manifest(image, ref, image.digest ?? image.tag ?? 'latest', signal);
    let manifest = top;
    if (isIndex(top.doc)) {
      const chosen = this.#pick(top.doc, ref);
      manifest = await this.#manifest(image, ref, chosen, signal);
    }
    const cached = this.#configs.get(manifest.digest);
    if (cached) return { digest: top.digest, manifestDigest: manifest.digest, labels: cached };
    const configDigest = manifest.doc.config?.digest;
    if (!configDigest) throw new RegistryError('ManifestInvalid', ref, `manifest ${manifest.digest} names no config`);
    const blob = await this.#get(image, ref, `/blobs/${configDigest}`, '*/*', signal);
    if (sha256(blob.body) !== configDigest)
      throw new RegistryError('ManifestInvalid', ref, `config blob does not match its digest ${configDigest}`);
    const config = parseJson(blob.body, ref, 'the image config') as {
      config?: { Labels?: Record<string, string> | null };
    };
    const labels = { ...(config.config?.Labels ?? {}) };
    this.#configs.set(manifest.digest, labels);
    return { digest: top.digest, manifestDigest: manifest.digest, labels };
  }

  async #manifest(
    image: ImageReference,
    ref: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<{ digest: string; doc: ManifestDoc }> {
    const res = await this.#get(image, ref, `/manifests/${reference}`, ACCEPT, signal);
    const computed = sha256(res.body);
    const header = headerOf(res, 'docker-content-digest');
    if (header && header.startsWith('sha256:') && header !== computed)
      throw new RegistryError(
        'ManifestInvalid',
        ref,
        `the manifest's Docker-Content-Digest ${header} does not match its content (${computed})`,
      );
    if (reference.includes(':') && reference.startsWith('sha256:') && reference !== computed)
      throw new RegistryError('ManifestInvalid', ref, `the manifest does not match the digest ${reference}`);
    const doc = parseJson(res.body, ref, 'the manifest') as ManifestDoc;
    doc.mediaType ??= headerOf(res, 'content-type')?.split(';')[0];
    return { digest: header ?? computed, doc };
  }

  #pick(index: ManifestDoc, ref: string): string {
    const want = this.#opts.platform ?? { os: 'linux', architecture: process.arch === 'arm64' ? 'arm64' : 'amd64' };
    const m = index.manifests?.find(
      (x) => x.platform?.os === want.os && x.platform?.architecture === want.architecture,
    );
    if (!m) {
      const have =
        (index.manifests ?? []).map((x) => `${x.platform?.os}/${x.platform?.architecture}`).join(', ') || 'none';
      throw new RegistryError(
        'PlatformNotFound',
        ref,
        `no ${want.os}/${want.architecture} image in its index (has: ${have})`,
      );
    }
    return m.digest;
  }

  /** GET with the registry's auth dance: try, and on 401 answer its challenge once. */
  async #get(image: ImageReference, ref: string, path: string, accept: string, signal?: AbortSignal): Promise<Answer> {
    const url = `${registryBaseUrl(image.registry)}/v2/${image.repository}${path}`;
    const key = `${image.registry} ${image.repository}`;
    let res = await this.#request(url, ref, { accept, ...authHeader(this.#tokens.get(key)) }, signal);
    if (res.status === 401) {
      const authorization = await this.#answerChallenge(image, ref, headerOf(res, 'www-authenticate') ?? '', signal);
      if (authorization) {
        this.#tokens.set(key, authorization);
        res = await this.#request(url, ref, { accept, authorization }, signal);
      }
    }
    if (res.status === 200) return res;
    if (res.status === 401 || res.status === 403) {
      const creds = this.#opts.credentials?.(image.registry, image.repository);
      throw new RegistryError(
        'RegistryUnauthorized',
        ref,
        `${image.registry} refused ${creds ? `the credentials of user "${creds.username}"` : 'access without credentials'} (HTTP ${res.status}${errorText(res)})`,
      );
    }
    if (res.status === 404)
      throw new RegistryError(
        'ImageNotFound',
        ref,
        `${image.registry} has no ${path.startsWith('/manifests') ? 'such tag or digest' : 'such blob'} in ${image.repository}${errorText(res)}`,
      );
    throw new RegistryError(
      res.status >= 500 || res.status === 429 ? 'RegistryUnavailable' : 'RegistryError',
      ref,
      `GET ${path} answered HTTP ${res.status}${errorText(res)}`,
    );
  }

  async #answerChallenge(
    image: ImageReference,
    ref: string,
    challenge: string,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const creds = this.#opts.credentials?.(image.registry, image.repository);
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    const scheme = challenge.split(' ')[0]?.toLowerCase();
    if (scheme === 'basic') return basic;
    if (scheme !== 'bearer') return undefined;
    const params = challengeParams(challenge);
    if (!params.realm) throw new RegistryError('RegistryError', ref, `a Bearer challenge without realm: ${challenge}`);
    const tokenUrl = new URL(params.realm);
    if (params.service) tokenUrl.searchParams.set('service', params.service);
    tokenUrl.searchParams.set('scope', params.scope ?? `repository:${image.repository}:pull`);
    const res = await this.#request(tokenUrl.toString(), ref, basic ? { authorization: basic } : {}, signal);
    if (res.status !== 200)
      throw new RegistryError(
        'RegistryUnauthorized',
        ref,
        `the token service ${tokenUrl.origin} refused ${creds ? `user "${creds.username}"` : 'an anonymous token'} (HTTP ${res.status}${errorText(res)})`,
      );
    const body = parseJson(res.body, ref, 'the token answer') as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError('RegistryError', ref, `the token service ${tokenUrl.origin} answered no token`);
    return `Bearer ${token}`;
  }

  /** One GET; follows redirects (blobs are often served elsewhere), without credentials to another host. */
  #request(url: string, ref: string, headers: Record<string, string>, signal?: AbortSignal, hops = 0): Promise<Answer> {
    const timeout = this.#opts.timeoutMs ?? 30_000;
    return new Promise<Answer>((resolve, reject) => {
      const get = url.startsWith('http:') ? http.get : https.get; // a token realm may be plain http
      const req = get(
        url,
        { headers: { 'user-agent': 'molt', ...headers }, ...(this.#ca ? { ca: this.#ca } : {}), signal },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_DOC) req.destroy(new Error(`answer larger than ${MAX_DOC} bytes`));
            else chunks.push(c);
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const location = res.headers.location;
            if ([301, 302, 303, 307, 308].includes(status) && location && hops < 5) {
              const next = new URL(location, url);
              const same = next.host === new URL(url).host;
              const { authorization: _drop, ...rest } = headers;
              resolve(this.#request(next.toString(), ref, same ? headers : rest, signal, hops + 1));
              return;
            }
            resolve({ status, headers: res.headers, body: Buffer.concat(chunks) });
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(timeout, () => req.destroy(new Error(`no answer within ${timeout} ms`)));
      req.on('error', (e) =>
        reject(
          signal?.aborted
            ? signal.reason
            : new RegistryError('RegistryUnavailable', ref, `${new URL(url).host}: ${e.message}`, { cause: e }),
        ),
      );
    });
  }
}

function isIndex(doc: ManifestDoc): boolean {
  return (
    doc.mediaType === MEDIA.ociIndex ||
    doc.mediaType === MEDIA.dockerList ||
    (Array.isArray(doc.manifests) && !doc.config)
  );
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters. */
export function challengeParams(challenge: string): Record<string, string> {
  const out: Record<string, string> = {};
  const rest = challenge.slice(challenge.indexOf(' ') + 1);
  for (const m of rest.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) out[(m[1] ?? '').toLowerCase()] = m[2] ?? '';
  return out;
}

function authHeader(value: string | undefined): Record<string, string> {
  return value ? { authorization: value } : {};
}

function headerOf(res: Answer, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function errorText(res: Answer): string {
  try {
    const errors = (JSON.parse(res.body.toString('utf8')) as { errors?: { code?: string; message?: string }[] }).errors;
    return errors?.length ? `: ${errors.map((e) => `${e.code ?? ''} ${e.message ?? ''}`.trim()).join('; ')}` : '';
  } catch {
    return '';
  }
}

function parseJson(body: Buffer, ref: string, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new RegistryError('ManifestInvalid', ref, `${what} is not JSON: ${(e as Error).message}`);
  }
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}
