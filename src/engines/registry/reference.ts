/**
 * Image references as Docker and Podman read them: `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`. The
 * first component is a registry host only when it contains "." or ":" or is "localhost";
 * otherwise the image is on Docker Hub (`docker.io`, official images under `library/`).
 */

/** A parsed image reference. */
export interface ImageReference {
  /** The registry host, with its port when given (e.g. "10.244.0.1:5443", "docker.io"). */
  registry: string;
  /** The repository path in that registry (e.g. "library/busybox", "shop/notes"). */
  repository: string;
  tag?: string;
  digest?: string;
}

const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/** Parses `ref`; throws a plain Error naming what is wrong (callers wrap it with their context). */
export function parseReference(ref: string): ImageReference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new Error(`"${ref}": "${digest}" is not a digest (algorithm:hex)`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const first = rest.split('/')[0] ?? '';
  let registry = 'docker.io';
  let repository = rest;
  if (rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    repository = rest.slice(first.length + 1);
  } else if (!rest.includes('/')) {
    repository = `library/${rest}`;
  }
  if (
    !repository ||
    !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repository)
  ) {
    throw new Error(`"${ref}": "${repository}" is not a repository name (lowercase letters, digits, separators)`);
  }
  if (tag !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag))
    throw new Error(`"${ref}": "${tag}" is not a tag`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The reference without tag or digest: `host/repository` as written (Docker Hub names kept short). */
export function repositoryOf(ref: string): string {
  const at = ref.indexOf('@');
  const noDigest = at >= 0 ? ref.slice(0, at) : ref;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** `repository@digest` for a reference: what runs exactly that image, whatever its tag says later. */
export function pinnedReference(ref: string, digest: string): string {
  return `${repositoryOf(ref)}@${digest}`;
}

/** The API base of a registry: Docker Hub's API lives at registry-1.docker.io. */
export function registryBaseUrl(registry: string): string {
  return `https://${registry === 'docker.io' ? 'registry-1.docker.io' : registry}`;
}

/**
 * True for an image that lives in no registry: Podman's `localhost/NAME` convention for images
 * built or loaded on a machine (no port). Its digest names nothing a node could pull.
 */
export function isLocalImage(image: string): boolean {
  try {
    return parseReference(image).registry === 'localhost';
  } catch {
    return false;
  }
}
