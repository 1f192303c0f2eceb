/**
 * Tiny offline test images: a root filesystem holding Debian's static busybox (/bin/busybox
 * with every applet linked in /bin, /usr/bin/env), /etc/passwd with root, app (1000) and
 * nobody, a 1777 /tmp, plus the files a test asks for — packed with tar-stream in memory
 * and loaded with `podman import --change …` (about 0.2 s; no registry, no build step).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { posix } from 'node:path';
import tar from 'tar-stream';
import type { PodmanHarness } from '../e2e/harness.ts';

/** What goes into a test image. */
export interface TestImageOptions {
  /** E.g. `localhost/app:1`. */
  tag: string;
  /** Image CMD. @default none */
  cmd?: string[];
  /** Image ENTRYPOINT. @default none */
  entrypoint?: string[];
  labels?: Record<string, string>;
  env?: Record<string, string>;
  /** Image USER, e.g. `app` or `1000`. @default root */
  user?: string;
  /** Image VOLUME paths. */
  volumes?: string[];
  /** Absolute path → content (mode 0644) or `{ content, mode }`; parent dirs are created. */
  files?: Record<string, string | Buffer | { content: string | Buffer; mode: number }>;
}

const BUSYBOX = '/bin/busybox';
let busybox: { binary: Buffer; applets: string[] } | undefined;

function loadBusybox(): { binary: Buffer; applets: string[] } {
  if (busybox) return busybox;
  if (!existsSync(BUSYBOX) || spawnSync('dpkg', ['-s', 'busybox-static']).status !== 0) {
    const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'busybox-static'], {
      encoding: 'utf8',
    });
    if (install.status !== 0 || !existsSync(BUSYBOX)) {
      throw new Error(
        `test images need Debian's busybox-static (${BUSYBOX}); apt-get install failed: ${install.stderr}`,
      );
    }
  }
  const list = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' });
  const applets = list.stdout
    .split('\n')
    .map((a) => a.trim())
    .filter((a) => a !== '' && a !== 'busybox');
  busybox = { binary: readFileSync(BUSYBOX), applets };
  return busybox;
}

/** The root filesystem of a test image as a tar archive. */
export async function rootfsTar(files: TestImageOptions['files'] = {}): Promise<Buffer> {
  const { binary, applets } = loadBusybox();
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  const dirs = new Set<string>();
  const dir = (path: string, mode = 0o755): void => {
    if (path === '/' || dirs.has(path)) return;
    dir(posix.dirname(path));
    dirs.add(path);
    pack.entry({ name: path.slice(1), type: 'directory', mode });
  };
  const file = (path: string, content: string | Buffer, mode = 0o644): void => {
    dir(posix.dirname(path));
    pack.entry({ name: path.slice(1), mode }, content);
  };
  dir('/tmp', 0o1777);
  dir('/root', 0o700);
  for (const d of ['/proc', '/sys', '/dev', '/etc', '/usr/bin', '/var/tmp']) dir(d);
  file('/bin/busybox', binary, 0o755);
  for (const applet of applets) pack.entry({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox' });
  pack.entry({ name: 'usr/bin/env', type: 'symlink', linkname: '/bin/busybox' });
  file(
    '/etc/passwd',
    'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n',
  );
  file('/etc/group', 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n');
  for (const [path, spec] of Object.entries(files)) {
    if (!path.startsWith('/')) throw new Error(`test image file paths must be absolute: ${path}`);
    if (typeof spec === 'string' || Buffer.isBuffer(spec)) file(path, spec);
    else file(path, spec.content, spec.mode);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The `--change` instructions for `podman import`. */
export function importChanges(o: TestImageOptions): string[] {
  const changes: string[] = [];
  for (const value of [...Object.entries(o.labels ?? {}), ...Object.entries(o.env ?? {})].flat()) {
    // `podman import --change` keeps backslash escapes verbatim, so such values would not round-trip.
    if (/["\\\n]/.test(value))
      throw new Error(`test image labels and env cannot contain quotes, backslashes or newlines: ${value}`);
  }
  if (o.entrypoint) changes.push(`ENTRYPOINT ${JSON.stringify(o.entrypoint)}`);
  if (o.cmd) changes.push(`CMD ${JSON.stringify(o.cmd)}`);
  for (const [k, v] of Object.entries(o.labels ?? {})) changes.push(`LABEL ${JSON.stringify(k)}=${JSON.stringify(v)}`);
  for (const [k, v] of Object.entries(o.env ?? {})) changes.push(`ENV ${k}=${JSON.stringify(v)}`);
  if (o.user) changes.push(`USER ${o.user}`);
  for (const v of o.volumes ?? []) changes.push(`VOLUME ${JSON.stringify([v])}`);
  return changes;
}

/** Builds a busybox-based image in the harness's storage; resolves with its ID. */
export async function buildTestImage(h: PodmanHarness, options: TestImageOptions): Promise<string> {
  const archive = await rootfsTar(options.files);
  const args = ['import', '--quiet'];
  for (const change of importChanges(options)) args.push('--change', change);
  args.push('-', options.tag);
  const result = await h.podman(args, { input: archive });
  if (result.code !== 0) throw new Error(`podman import ${options.tag} failed: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/**
 * Writes a one-layer docker-archive (what `ctr images import` and `podman load` read) of a
 * busybox rootfs holding `files`, tagged `ref`, whose entrypoint is `/bin/sh <start>`.
 */
export async function writeDockerArchive(
  file: string,
  ref: string,
  files: TestImageOptions['files'],
  start: string,
  labels?: Record<string, string>,
): Promise<void> {
  const layer = await rootfsTar(files);
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const diff = sha(layer);
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: { Env: ['PATH=/bin:/usr/bin'], Entrypoint: ['/bin/sh', start], ...(labels ? { Labels: labels } : {}) },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diff}`] },
  });
  const cfg = sha(config);
  const pack = tar.pack();
  pack.entry({ name: `${diff}/layer.tar` }, layer);
  pack.entry({ name: `${cfg}.json` }, config);
  pack.entry(
    { name: 'manifest.json' },
    JSON.stringify([{ Config: `${cfg}.json`, RepoTags: [ref], Layers: [`${diff}/layer.tar`] }]),
  );
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  writeFileSync(file, Buffer.concat(chunks));
}
