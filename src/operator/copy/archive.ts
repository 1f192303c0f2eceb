/**
 * A volume's files as one tar archive and back, exactly: contents, numeric owners, modes
 * (setuid/setgid/sticky too), modification times (whole seconds, as tar keeps them), symlinks,
 * hard links and empty directories — what the local engine's GNU tar snapshots keep. Runs in
 * the operator's image (Node, no GNU tar there) inside the copy Jobs of volume-copy.ts.
 *
 * An archive, not a tree of copied files: the claim that holds it may have its ownership
 * managed by the kubelet (fsGroup: a recursive chgrp and g+rwX on mount), which would change a
 * copied tree's owners and modes, but never the headers inside an archive.
 *
 * Owners: chown needs CAP_CHOWN. Run as root, every owner comes back; run as the app's
 * non-root user (Pod Security `restricted`), the app's own files come back exactly and
 * entries owned by someone else keep the copying user as owner — counted, never silent.
 */
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import {
  lstat,
  link,
  lutimes,
  mkdir,
  open,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  lchown,
  chmod,
} from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, pack as tarPack, type Header as TarHeader, type Pack } from 'tar-stream';

/** What a pack or an extract did. */
export interface ArchiveResult {
  entries: number;
  /** Bytes of regular file content. */
  bytes: number;
  /** Entries whose owner could not be set (not root), or that tar cannot carry (sockets). */
  notKept: string[];
}

type Header = Partial<TarHeader> & { name: string };

/** Writes the tree under `root` to `file` (via `file.partial`, renamed when complete and synced). */
export async function packTree(root: string, file: string): Promise<ArchiveResult> {
  const pack = tarPack();
  const out = createWriteStream(`${file}.partial`, { mode: 0o600 });
  const done = pipeline(pack, out);
  const result: ArchiveResult = { entries: 0, bytes: 0, notKept: [] };
  const inodes = new Map<string, string>();
  const add = async (rel: string): Promise<void> => {
    const path = rel === '.' ? root : join(root, rel);
    const st = await lstat(path);
    const name = rel === '.' ? './' : `./${rel}`;
    const base = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: new Date(Math.floor(st.mtimeMs)) };
    if (st.isDirectory()) {
      await entry(pack, { ...base, name: name.endsWith('/') ? name : `${name}/`, type: 'directory' });
      result.entries++;
      for (const child of (await readdir(path)).sort()) await add(rel === '.' ? child : `${rel}/${child}`);
      return;
    }
    if (st.isSymbolicLink()) {
      await entry(pack, { ...base, type: 'symlink', linkname: await readlink(path) });
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? inodes.get(key) : undefined;
      if (first) await entry(pack, { ...base, type: 'link', linkname: first });
      else {
        if (st.nlink > 1) inodes.set(key, name);
        if (st.size === 0) await entry(pack, { ...base, type: 'file', size: 0 }, Buffer.alloc(0));
        else await fileEntry(pack, { ...base, type: 'file', size: st.size }, path);
        result.bytes += st.size;
      }
    } else if (st.isFIFO()) {
      await entry(pack, { ...base, type: 'fifo' });
    } else {
      result.notKept.push(`${name}: ${kindOf(st)} not archived`);
      return;
    }
    result.entries++;
  };
  try {
    await add('.');
    pack.finalize();
    await done;
  } catch (e) {
    pack.destroy();
    await done.catch(() => undefined);
    throw e;
  }
  const fh = await open(`${file}.partial`, 'r+');
  await fh.sync();
  await fh.close();
  await rename(`${file}.partial`, file);
  return result;
}

/**
 * Makes the tree under `root` exactly the archive: everything in it is removed first (`root`
 * itself stays: it is a mount point), then the entries are written; directories get their
 * owners, modes and times last, deepest first, so writing into them changes nothing after.
 */
export async function extractTree(file: string, root: string): Promise<ArchiveResult> {
  for (const child of await readdir(root)) await rm(join(root, child), { recursive: true, force: true });
  const result: ArchiveResult = { entries: 0, bytes: 0, notKept: [] };
  const dirs: { path: string; header: Header }[] = [];
  const extract = tarExtract();
  extract.on('entry', (header, stream, next) => {
    writeEntry(root, header, stream as unknown as NodeJS.ReadableStream, result, dirs).then(
      () => next(),
      (e: unknown) => next(e as Error),
    );
  });
  await pipeline(createReadStream(file), extract);
  for (const d of dirs.sort((a, b) => b.path.length - a.path.length)) {
    await owner(d.path, d.header, result, d.path === root);
    await chmod(d.path, d.header.mode ?? 0o755).catch((e: NodeJS.ErrnoException) => {
      if (d.path !== root || e.code !== 'EPERM') throw e;
      result.notKept.push(`./: mode (the mount point is not the copying user's)`);
    });
    await times(d.path, d.header).catch((e: NodeJS.ErrnoException) => {
      if (d.path !== root || e.code !== 'EPERM') throw e;
    });
  }
  return result;
}

async function writeEntry(
  root: string,
  header: Header,
  stream: NodeJS.ReadableStream,
  result: ArchiveResult,
  dirs: { path: string; header: Header }[],
): Promise<void> {
  const path = safeJoin(root, header.name);
  result.entries++;
  if (header.type !== 'file') stream.resume();
  switch (header.type) {
    case 'directory':
      await mkdir(path, { recursive: true });
      dirs.push({ path, header });
      break;
    case 'file':
      await pipeline(stream, createWriteStream(path, { mode: 0o600 }));
      result.bytes += header.size ?? 0;
      break;
    case 'symlink':
      await symlink(header.linkname ?? '', path);
      break;
    case 'link':
      await link(safeJoin(root, header.linkname ?? ''), path);
      break;
    case 'fifo':
      result.notKept.push(`${header.name}: a FIFO (Node cannot make one); left out`);
      break;
    default:
      result.notKept.push(`${header.name}: ${header.type} left out`);
  }
  if (header.type !== 'file' && header.type !== 'symlink') return;
  await owner(path, header, result, false);
  if (header.type === 'file') await chmod(path, header.mode ?? 0o644);
  await times(path, header);
}

/** Sets the recorded owner; without the right to (not root), counts it instead. */
async function owner(path: string, header: Header, result: ArchiveResult, isRoot: boolean): Promise<void> {
  try {
    await lchown(path, header.uid ?? 0, header.gid ?? 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    result.notKept.push(`${isRoot ? './' : header.name}: owner ${header.uid}:${header.gid}`);
  }
}

function times(path: string, header: Header): Promise<void> {
  const mtime = header.mtime ?? new Date(0);
  return lutimes(path, mtime, mtime);
}

/** `name` below `root`, refusing absolute names and `..` (an archive only ever holds ./…). */
function safeJoin(root: string, name: string): string {
  const rel = normalize(name === '.' || name === './' ? '.' : name.replace(/^\.\//, ''));
  if (rel.startsWith('/') || rel === '..' || rel.startsWith(`..${sep}`))
    throw new Error(`archive entry ${name} points outside the volume`);
  return rel === '.' ? root : join(root, rel);
}

function entry(pack: Pack, header: Header, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (e?: Error | null) => (e ? reject(e) : resolve());
    if (body) pack.entry(header, body, done);
    else pack.entry(header, done);
  });
}

async function fileEntry(pack: Pack, header: Header, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sink = pack.entry(header, (e) => (e ? reject(e) : resolve()));
    // The volume is live: a file that grows while it is read is cut at the size it had.
    pipeline(createReadStream(path, { start: 0, end: (header.size ?? 1) - 1 }), sink).catch(reject);
  });
}

function kindOf(st: Stats): string {
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'an unknown file type';
}
