/**
 * Debian root filesystems for the real-database examples, made with `debootstrap
 * --variant=minbase SUITE` plus the server packages (no registry), trimmed (no docs, man
 * pages, translations, apt lists or downloaded .debs) and cached as one tar per suite outside
 * the repo — `$MOLT_IMAGE_CACHE`, default `~/.cache/molt-images/` — keyed by suite, package
 * list, mirror and the recipe's version, like the Kubernetes build of test/k8s.
 *
 * One rootfs per suite carries every package of that suite (bookworm: PostgreSQL 15 and
 * Redis; trixie: PostgreSQL 17 and Valkey): one debootstrap instead of two, and images of the
 * same suite share it as their base layer. Builds are serialised per key with flock(1) on a
 * lock file, so parallel test files and users wait for one build instead of making two; the
 * lock is the kernel's, so a killed builder never leaves it held.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Bump when the build or trim steps below change what a rootfs contains. */
export const ROOTFS_RECIPE_VERSION = 1;

/** The default Debian mirror; `MOLT_DEBIAN_MIRROR` overrides it. */
export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

/** What a cached rootfs is made of. */
export interface RootfsSpec {
  suite: string;
  packages: string[];
  mirror?: string;
}

/** A rootfs tar in the cache, with what it holds and how it was made. */
export interface CachedRootfs {
  suite: string;
  key: string;
  tar: string;
  bytes: number;
  /** Installed version of each requested package. */
  versions: Record<string, string>;
  /** How long its cold build took (debootstrap + trim + tar). */
  buildSeconds: number;
  /** True when this call found it in the cache. */
  cached: boolean;
}

/** Paths (relative to the rootfs) removed after debootstrap: nothing a server needs at run time. */
export const TRIM_PATHS = [
  'var/cache/apt/archives',
  'var/cache/apt/pkgcache.bin',
  'var/cache/apt/srcpkgcache.bin',
  'var/lib/apt/lists',
  'usr/share/doc',
  'usr/share/man',
  'usr/share/info',
  'usr/share/locale',
  'usr/share/lintian',
  'var/log',
  'etc/resolv.conf',
  'etc/hostname',
  // The cluster Debian's postgresql-common creates on install: the example images keep their
  // clusters on the data volume, one directory per major version.
  'etc/postgresql',
  'var/lib/postgresql',
] as const;

/** The cache directory: `$MOLT_IMAGE_CACHE`, else `~/.cache/molt-images`. */
export function imageCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MOLT_IMAGE_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'molt-images');
}

/** The cache key: the same suite, packages (in any order), mirror and recipe give the same key. */
export function rootfsKey(spec: RootfsSpec): string {
  const identity = JSON.stringify({
    suite: spec.suite,
    packages: [...new Set(spec.packages)].sort(),
    mirror: spec.mirror ?? DEFAULT_MIRROR,
    recipe: ROOTFS_RECIPE_VERSION,
  });
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}

/** Refuses names that would be read as options or paths by debootstrap. */
export function checkSpec(spec: RootfsSpec): void {
  if (!/^[a-z][a-z0-9-]*$/.test(spec.suite))
    throw new Error(`invalid Debian suite name: ${JSON.stringify(spec.suite)}`);
  for (const p of spec.packages) {
    if (!/^[a-z0-9][a-z0-9+.-]+$/.test(p)) throw new Error(`invalid Debian package name: ${JSON.stringify(p)}`);
  }
  if (spec.packages.length === 0) throw new Error(`no packages for the ${spec.suite} rootfs`);
}

/** Options for `ensureRootfs`. */
export interface EnsureOptions {
  cacheDir?: string;
  /** Progress lines (build start, waiting for another builder, done). */
  log?: (line: string) => void;
}

/** Returns the cached rootfs of `spec`, building it first when the cache lacks it. */
export async function ensureRootfs(spec: RootfsSpec, options: EnsureOptions = {}): Promise<CachedRootfs> {
  checkSpec(spec);
  const dir = options.cacheDir ?? imageCacheDir();
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const key = rootfsKey(spec);
  const base = join(dir, `${spec.suite}-${key}`);
  const found = readCached(base, spec.suite, key);
  if (found) return found;
  const log = options.log ?? (() => {});
  return withFileLock(
    `${base}.lock`,
    () => log(`waiting for another build of the ${spec.suite} rootfs (${base}.lock)`),
    async () => {
      const built = readCached(base, spec.suite, key);
      if (built) return built;
      log(`building the ${spec.suite} rootfs with debootstrap (${spec.packages.join(', ')}); log: ${base}.build.log`);
      const started = Date.now();
      const versions = await buildRootfs(spec, base);
      const buildSeconds = Math.round((Date.now() - started) / 100) / 10;
      writeFileSync(
        `${base}.json`,
        `${JSON.stringify({ suite: spec.suite, packages: spec.packages, mirror: spec.mirror ?? DEFAULT_MIRROR, recipe: ROOTFS_RECIPE_VERSION, versions, buildSeconds, builtAt: new Date().toISOString() }, null, 2)}\n`,
      );
      log(`built the ${spec.suite} rootfs in ${buildSeconds} s`);
      return { ...readCached(base, spec.suite, key)!, cached: false };
    },
  );
}

function readCached(base: string, suite: string, key: string): CachedRootfs | undefined {
  if (!existsSync(`${base}.tar`) || !existsSync(`${base}.json`)) return undefined;
  const meta = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as {
    versions: Record<string, string>;
    buildSeconds: number;
  };
  return {
    suite,
    key,
    tar: `${base}.tar`,
    bytes: statSync(`${base}.tar`).size,
    versions: meta.versions,
    buildSeconds: meta.buildSeconds,
    cached: true,
  };
}

/** debootstrap into a scratch dir beside the cache entry, trim, tar, rename into place. */
async function buildRootfs(spec: RootfsSpec, base: string): Promise<Record<string, string>> {
  if (process.getuid?.() !== 0)
    throw new Error('building the example rootfs needs root (debootstrap makes device nodes and chroots)');
  if (spawnSync('debootstrap', ['--version']).status !== 0)
    throw new Error('debootstrap is missing: apt-get install debootstrap (scripts/setup.sh installs it)');
  const work = `${base}.build-${process.pid}`;
  const rootfs = join(work, 'rootfs');
  removeTree(work);
  mkdirSync(work, { recursive: true });
  try {
    const args = [
      '--variant=minbase',
      `--include=${spec.packages.join(',')}`,
      spec.suite,
      rootfs,
      spec.mirror ?? DEFAULT_MIRROR,
    ];
    await runLogged('debootstrap', args, `${base}.build.log`);
    const versions = installedVersions(rootfs, spec.packages);
    for (const path of TRIM_PATHS) trim(rootfs, path);
    await runLogged(
      'tar',
      [
        '--numeric-owner',
        '-C',
        rootfs,
        '--exclude=./dev/*',
        '--exclude=./proc/*',
        '--exclude=./sys/*',
        '-cf',
        `${work}/rootfs.tar`,
        '.',
      ],
      `${base}.build.log`,
    );
    renameSync(`${work}/rootfs.tar`, `${base}.tar`);
    return versions;
  } finally {
    removeTree(work);
  }
}

/** Empties a directory (keeping it, with its mode) or removes a file. */
function trim(rootfs: string, path: string): void {
  const full = join(rootfs, path);
  if (!existsSync(full)) return;
  if (!statSync(full).isDirectory()) {
    rmSync(full, { force: true });
    return;
  }
  for (const entry of readdirSync(full)) rmSync(join(full, entry), { recursive: true, force: true });
}

function installedVersions(rootfs: string, packages: string[]): Record<string, string> {
  const q = spawnSync('chroot', [rootfs, 'dpkg-query', '-W', '-f', '${Package}\\t${Version}\\n', ...packages], {
    encoding: 'utf8',
  });
  if (q.status !== 0) throw new Error(`dpkg-query in the new rootfs failed: ${q.stderr.trim()}`);
  return Object.fromEntries(
    q.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('\t') as [string, string]),
  );
}

/** Runs a command appending its output to `logFile`; rejects with the log's tail on failure. */
function runLogged(cmd: string, args: string[], logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const log = createWriteStream(logFile, { flags: 'a' });
    log.write(`$ ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on('error', (e) => {
      log.end();
      reject(e);
    });
    child.on('close', (code) => {
      log.end(() => {
        if (code === 0) return resolve();
        const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
        reject(new Error(`${cmd} exited with ${code}; last lines of ${logFile}:\n${tail}`));
      });
    });
  });
}

/** Removes a scratch tree, unmounting first anything a killed debootstrap left mounted in it. */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const mount of mounts) {
    if (spawnSync('umount', [mount]).status !== 0) spawnSync('umount', ['-l', mount]);
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs `fn` holding an exclusive flock(1) on `file`. The lock belongs to a `flock … cat`
 * child whose stdin is ours: it ends when we release it or when this process dies.
 */
export async function withFileLock<T>(file: string, onWait: () => void, fn: () => Promise<T>): Promise<T> {
  const holder = spawn('flock', ['--exclusive', file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const waitNotice = setTimeout(onWait, 1_000);
  try {
    await new Promise<void>((resolve, reject) => {
      let err = '';
      holder.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      holder.stdout.once('data', () => resolve());
      holder.on('error', reject);
      holder.on('close', (code) => reject(new Error(`flock ${file} exited with ${code}: ${err.trim()}`)));
    });
  } finally {
    clearTimeout(waitNotice);
  }
  try {
    return await fn();
  } finally {
    await new Promise<void>((resolve) => {
      holder.removeAllListeners('close');
      holder.on('close', () => resolve());
      holder.stdin.end();
    });
  }
}
