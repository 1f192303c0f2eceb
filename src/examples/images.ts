/**
 * Builds small images offline: Debian's static busybox plus a few files, as a build context
 * (tar with a Containerfile `FROM scratch`) for the engine's build API. Used by the demo, the
 * benchmarks and the end-to-end tests, so every image is made here, never pulled.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';

/** Where Debian's busybox-static installs its binary. */
export const BUSYBOX = '/bin/busybox';

/** A file placed in the image. */
export interface ImageFile {
  content: string | Buffer;
  mode?: number;
}

/** What a busybox-based image contains. */
export interface BusyboxImageSpec {
  cmd?: string[];
  entrypoint?: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  /** Absolute path in the image → file. */
  files?: Record<string, ImageFile>;
  volumes?: string[];
  user?: string;
}

/** The build context (a tar stream) for a busybox image. */
export function busyboxContext(spec: BusyboxImageSpec): Readable {
  if (!existsSync(BUSYBOX))
    throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (apt-get install busybox-static)`);
  const tar = pack();
  const busybox = readFileSync(BUSYBOX);
  tar.entry({ name: 'rootfs/bin/busybox', mode: 0o755 }, busybox);
  for (const applet of applets()) tar.entry({ name: `rootfs/bin/${applet}`, type: 'symlink', linkname: 'busybox' });
  for (const dir of ['tmp', 'etc', 'var/lib', 'root'])
    tar.entry({ name: `rootfs/${dir}`, type: 'directory', mode: dir === 'tmp' ? 0o1777 : 0o755 });
  tar.entry(
    { name: 'rootfs/etc/passwd', mode: 0o644 },
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n',
  );
  tar.entry({ name: 'rootfs/etc/group', mode: 0o644 }, 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\n');
  for (const [path, file] of Object.entries(spec.files ?? {})) {
    tar.entry(
      { name: `rootfs${path}`, mode: file.mode ?? 0o644 },
      typeof file.content === 'string' ? Buffer.from(file.content) : file.content,
    );
  }
  tar.entry({ name: 'Containerfile', mode: 0o644 }, containerfile(spec));
  tar.finalize();
  return Readable.from(tar);
}

function containerfile(spec: BusyboxImageSpec): string {
  const lines = ['FROM scratch', 'COPY rootfs/ /', 'ENV PATH=/bin'];
  for (const [k, v] of Object.entries(spec.env ?? {})) lines.push(`ENV ${k}=${JSON.stringify(v)}`);
  for (const [k, v] of Object.entries(spec.labels ?? {})) lines.push(`LABEL ${JSON.stringify(k)}=${JSON.stringify(v)}`);
  for (const v of spec.volumes ?? []) lines.push(`VOLUME ${JSON.stringify(v)}`);
  if (spec.user) lines.push(`USER ${spec.user}`);
  if (spec.entrypoint) lines.push(`ENTRYPOINT ${JSON.stringify(spec.entrypoint)}`);
  if (spec.cmd) lines.push(`CMD ${JSON.stringify(spec.cmd)}`);
  return `${lines.join('\n')}\n`;
}

let appletCache: string[] | undefined;
function applets(): string[] {
  appletCache ??= execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  return appletCache;
}

/** Reads a directory of example files into image files under `prefix`, keeping exec bits. */
export function filesFrom(dir: string, prefix: string): Record<string, ImageFile> {
  const out: Record<string, ImageFile> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d)) {
      const full = join(d, entry);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else out[`${prefix}/${relative(dir, full)}`] = { content: readFileSync(full), mode: st.mode & 0o777 };
    }
  };
  walk(dir);
  return out;
}
