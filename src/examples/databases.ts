/**
 * The real-database examples (examples/postgres, examples/valkey): images of PostgreSQL 15
 * and Redis from Debian bookworm, PostgreSQL 17 and Valkey from Debian trixie. Each image is
 * its suite's cached rootfs (debian-rootfs.ts), imported once as a base image, plus a thin
 * layer with the example's scripts, labels and start command made by `podman build`.
 */
import { mkdtempSync, copyFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCRIPT_LABEL } from '../core/model.ts';
import { ensureRootfs, type CachedRootfs, type EnsureOptions, type RootfsSpec } from './debian-rootfs.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples', import.meta.url));

/** One rootfs per suite, holding the servers of every example image of that suite. */
export const SUITE_PACKAGES: Record<'bookworm' | 'trixie', string[]> = {
  bookworm: ['postgresql-15', 'redis-server'],
  trixie: ['postgresql-17', 'valkey-server'],
};
export type Suite = keyof typeof SUITE_PACKAGES;

/** What one example image adds to its suite's base. */
export interface ExampleImage {
  tag: string;
  suite: Suite;
  /** Path in the image → file under examples/. */
  files: Record<string, string>;
  env: Record<string, string>;
  labels: Record<string, string>;
  cmd: string[];
  stopSignal: string;
}

const PG_PATH = (major: number) =>
  `/usr/lib/postgresql/${major}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
const DEB_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function postgres(major: 15 | 17): ExampleImage {
  const upgrade = major === 17;
  return {
    tag: `localhost/molt-example/postgres:${major}`,
    suite: major === 15 ? 'bookworm' : 'trixie',
    files: {
      '/opt/postgres/start.sh': 'postgres/start.sh',
      '/opt/postgres/initdb.sh': 'postgres/initdb.sh',
      ...(upgrade
        ? {
            '/opt/postgres/pre-upgrade.sh': 'postgres/pre-upgrade.sh',
            '/opt/postgres/post-upgrade.sh': 'postgres/post-upgrade.sh',
            '/opt/postgres/NOTICE': 'postgres/NOTICE',
          }
        : {}),
    },
    env: { PG_MAJOR: String(major), PATH: PG_PATH(major), LANG: 'C.UTF-8' },
    labels: upgrade
      ? {
          [SCRIPT_LABEL.preUpgrade]: '/opt/postgres/pre-upgrade.sh',
          [SCRIPT_LABEL.postUpgrade]: '/opt/postgres/post-upgrade.sh',
          [SCRIPT_LABEL.notification]: '/opt/postgres/NOTICE',
        }
      : {},
    cmd: ['/opt/postgres/start.sh'],
    // Fast shutdown: SIGTERM (smart) would wait for every client to disconnect.
    stopSignal: 'SIGINT',
  };
}

function keyValue(server: 'redis' | 'valkey'): ExampleImage {
  const valkey = server === 'valkey';
  return {
    tag: valkey ? 'localhost/molt-example/valkey:8.1' : 'localhost/molt-example/redis:7.0',
    suite: valkey ? 'trixie' : 'bookworm',
    files: {
      '/opt/kv/start.sh': 'valkey/start.sh',
      '/opt/kv/ready.sh': 'valkey/ready.sh',
      ...(valkey
        ? {
            '/opt/kv/pre-upgrade.sh': 'valkey/pre-upgrade.sh',
            '/opt/kv/post-upgrade.sh': 'valkey/post-upgrade.sh',
            '/opt/kv/NOTICE': 'valkey/NOTICE',
          }
        : {}),
    },
    env: { KV_SERVER: `${server}-server`, KV_USER: server, PATH: DEB_PATH, LANG: 'C.UTF-8' },
    labels: valkey
      ? {
          [SCRIPT_LABEL.preUpgrade]: '/opt/kv/pre-upgrade.sh',
          [SCRIPT_LABEL.postUpgrade]: '/opt/kv/post-upgrade.sh',
          [SCRIPT_LABEL.notification]: '/opt/kv/NOTICE',
        }
      : {},
    cmd: ['/opt/kv/start.sh'],
    stopSignal: 'SIGTERM',
  };
}

/** Every example image by short name. */
export const EXAMPLE_IMAGES = {
  'postgres:15': postgres(15),
  'postgres:17': postgres(17),
  'redis:7.0': keyValue('redis'),
  'valkey:8.1': keyValue('valkey'),
} as const satisfies Record<string, ExampleImage>;
export type ExampleImageName = keyof typeof EXAMPLE_IMAGES;

/** The images each example needs. */
export const EXAMPLE_SETS: Record<'postgres' | 'valkey', ExampleImageName[]> = {
  postgres: ['postgres:15', 'postgres:17'],
  valkey: ['redis:7.0', 'valkey:8.1'],
};

/** The result of one podman CLI run. */
export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}
/** Runs the podman CLI (the user's, or a test harness's with its storage flags). */
export type PodmanCli = (args: string[]) => Promise<PodmanResult>;

/** The base image tag of a cached rootfs: the key in the tag, so a new recipe is a new image. */
export function baseTag(rootfs: CachedRootfs): string {
  return `localhost/molt-example/debian:${rootfs.suite}-${rootfs.key}`;
}

/** The Containerfile of an example image on top of its base. */
export function containerfile(image: ExampleImage, base: string, rootfs: CachedRootfs): string {
  const lines = [`FROM ${base}`];
  for (const [i, path] of Object.keys(image.files).entries()) lines.push(`COPY f${i} ${path}`);
  for (const [k, v] of Object.entries(image.env)) lines.push(`ENV ${k}=${JSON.stringify(v)}`);
  const labels = {
    ...image.labels,
    'dev.molt.example.debian': `${rootfs.suite} ${Object.entries(rootfs.versions)
      .map(([p, v]) => `${p}=${v}`)
      .join(' ')}`,
  };
  for (const [k, v] of Object.entries(labels)) lines.push(`LABEL ${JSON.stringify(k)}=${JSON.stringify(v)}`);
  lines.push(`STOPSIGNAL ${image.stopSignal}`, `CMD ${JSON.stringify(image.cmd)}`);
  return `${lines.join('\n')}\n`;
}

/** Timings of one `buildExampleImages` call, for the README and the test log. */
export interface BuildReport {
  rootfs: CachedRootfs[];
  /** Seconds to make the rootfs tars present (0 when cached). */
  rootfsSeconds: number;
  /** Seconds to import the bases that were missing from the engine. */
  importSeconds: number;
  /** Seconds for the thin per-example layers. */
  layerSeconds: number;
  tags: string[];
}

/** Builds the named example images into the engine behind `podman`, using the rootfs cache. */
export async function buildExampleImages(
  podman: PodmanCli,
  names: ExampleImageName[],
  options: EnsureOptions & { mirror?: string } = {},
): Promise<BuildReport> {
  const suites = [...new Set(names.map((n) => EXAMPLE_IMAGES[n].suite))];
  let t = Date.now();
  // The suites' debootstraps run side by side: mostly downloads and dpkg, not CPU.
  const rootfs = await Promise.all(suites.map((suite) => ensureRootfs(rootfsSpec(suite, options.mirror), options)));
  const rootfsSeconds = (Date.now() - t) / 1000;
  t = Date.now();
  const bases = new Map<Suite, { tag: string; rootfs: CachedRootfs }>();
  await Promise.all(
    rootfs.map(async (r) => {
      const tag = baseTag(r);
      if ((await podman(['image', 'exists', tag])).code !== 0) {
        options.log?.(`importing ${r.tar} as ${tag}`);
        const imported = await podman(['import', '--quiet', '--change', `ENV PATH=${DEB_PATH}`, r.tar, tag]);
        if (imported.code !== 0) throw new Error(`podman import ${r.tar} failed: ${imported.stderr.trim()}`);
      }
      bases.set(r.suite as Suite, { tag, rootfs: r });
    }),
  );
  const importSeconds = (Date.now() - t) / 1000;
  t = Date.now();
  await Promise.all(
    names.map((name) => {
      const image = EXAMPLE_IMAGES[name];
      const base = bases.get(image.suite)!;
      return buildLayer(podman, image, base.tag, base.rootfs);
    }),
  );
  return {
    rootfs,
    rootfsSeconds,
    importSeconds,
    layerSeconds: (Date.now() - t) / 1000,
    tags: names.map((n) => EXAMPLE_IMAGES[n].tag),
  };
}

/** The rootfs spec of a suite. */
export function rootfsSpec(suite: Suite, mirror = process.env.MOLT_DEBIAN_MIRROR || undefined): RootfsSpec {
  return { suite, packages: SUITE_PACKAGES[suite], ...(mirror ? { mirror } : {}) };
}

async function buildLayer(podman: PodmanCli, image: ExampleImage, base: string, rootfs: CachedRootfs): Promise<void> {
  const context = mkdtempSync(join(tmpdir(), 'molt-example-image-'));
  try {
    for (const [i, src] of Object.values(image.files).entries()) {
      copyFileSync(join(EXAMPLES, src), join(context, `f${i}`));
      chmodSync(join(context, `f${i}`), src.endsWith('.sh') ? 0o755 : 0o644);
    }
    writeFileSync(join(context, 'Containerfile'), containerfile(image, base, rootfs));
    const built = await podman([
      'build',
      '--quiet',
      '--pull=never',
      '--network=none',
      '-t',
      image.tag,
      '-f',
      join(context, 'Containerfile'),
      context,
    ]);
    if (built.code !== 0) throw new Error(`podman build ${image.tag} failed: ${built.stderr.trim()}`);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
