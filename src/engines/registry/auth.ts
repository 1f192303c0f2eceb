/**
 * Registry credentials in the dockerconfigjson format — the format of a Kubernetes
 * imagePullSecret (`.dockerconfigjson`), Podman's auth.json and Docker's config.json:
 * `{"auths": {"HOST[/PATH]": {"auth": base64("user:password")}}}` (or `username`/`password`).
 * Podman also accepts keys scoped to a repository path; the longest matching key wins.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** A user name and password for one registry. */
export interface Credentials {
  username: string;
  password: string;
}

/** A parsed dockerconfigjson: entry key → credentials. */
export type AuthConfig = Map<string, Credentials>;

/** Parses a dockerconfigjson document; `where` names it in errors. Also takes the legacy .dockercfg shape (no "auths"). */
export function parseAuthConfig(text: string, where: string): AuthConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where} is not JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object') throw new Error(`${where} is not a JSON object`);
  const auths = ((doc as { auths?: unknown }).auths ?? doc) as Record<string, unknown>;
  const out: AuthConfig = new Map();
  for (const [key, value] of Object.entries(auths)) {
    if (!value || typeof value !== 'object') continue;
    const v = value as { auth?: unknown; username?: unknown; password?: unknown };
    let creds: Credentials | undefined;
    if (typeof v.auth === 'string' && v.auth) {
      const plain = Buffer.from(v.auth, 'base64').toString('utf8');
      const i = plain.indexOf(':');
      if (i < 0) throw new Error(`${where}: auths["${key}"].auth is not base64 of "user:password"`);
      creds = { username: plain.slice(0, i), password: plain.slice(i + 1) };
    } else if (typeof v.username === 'string' && typeof v.password === 'string') {
      creds = { username: v.username, password: v.password };
    }
    if (creds) out.set(normalizeKey(key), creds);
  }
  return out;
}

/** "https://host/v1/" → "host"; "host/ns/repo" stays (a repository-scoped entry). */
function normalizeKey(key: string): string {
  let k = key.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
  if (k.endsWith('/v1') || k.endsWith('/v2')) k = k.slice(0, -3);
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') k = 'docker.io';
  return k;
}

/** The credentials for `registry/repository`: the longest key that is the host or a path prefix of it. */
export function credentialsFor(config: AuthConfig, registry: string, repository: string): Credentials | undefined {
  const full = `${registry}/${repository}`;
  let best: { len: number; creds: Credentials } | undefined;
  for (const [key, creds] of config) {
    if (key === registry || full === key || full.startsWith(`${key}/`)) {
      if (!best || key.length > best.len) best = { len: key.length, creds };
    }
  }
  return best?.creds;
}

/**
 * The auth files Podman and Docker read, in Podman's order: $REGISTRY_AUTH_FILE,
 * $XDG_RUNTIME_DIR/containers/auth.json (root: /run/containers/0/auth.json),
 * $XDG_CONFIG_HOME/containers/auth.json, $DOCKER_CONFIG/config.json or ~/.docker/config.json.
 */
export function defaultAuthFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME ?? homedir();
  const uid = process.getuid?.() ?? 0;
  const files = [
    env.REGISTRY_AUTH_FILE,
    env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'containers/auth.json') : `/run/containers/${uid}/auth.json`,
    join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'containers/auth.json'),
    join(env.DOCKER_CONFIG ?? join(home, '.docker'), 'config.json'),
  ];
  return files.filter((f): f is string => Boolean(f));
}

/** The first credentials any of `files` holds for `registry/repository` (missing files are skipped). */
export function credentialsFromFiles(files: string[], registry: string, repository: string): Credentials | undefined {
  for (const file of files) {
    if (!existsSync(file)) continue;
    const creds = credentialsFor(parseAuthConfig(readFileSync(file, 'utf8'), file), registry, repository);
    if (creds) return creds;
  }
  return undefined;
}
