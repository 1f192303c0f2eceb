/** Small tar helpers for copying files into and out of containers through the archive API. */
import type { Readable } from 'node:stream';

/** tar-stream on first use (tar-stream.ts). */
export const tarStream = (): Promise<typeof import('./tar-stream.ts')> => import('./tar-stream.ts');

/** One entry to pack: a directory (no content) or a file. */
export interface TarEntry {
  name: string;
  content?: Buffer | string;
  mode: number;
}

/** Packs entries into a tar buffer (owned by root, mtime now). */
export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const p = (await tarStream()).pack();
  for (const e of entries) {
    if (e.content === undefined) p.entry({ name: e.name, type: 'directory', mode: e.mode, uid: 0, gid: 0 });
    else
      p.entry(
        { name: e.name, mode: e.mode, uid: 0, gid: 0 },
        typeof e.content === 'string' ? Buffer.from(e.content) : e.content,
      );
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The first entry of a tar stream, read whole only when it is a regular file within `maxBytes`. */
export interface FirstEntry {
  type: string;
  size: number;
  mode: number;
  /** Undefined when not a regular file or larger than maxBytes. */
  content?: Buffer;
}

/** Reads the first entry of a tar stream (e.g. GET /archive of one file) and closes the stream. */
export async function readFirstEntry(stream: Readable, maxBytes: number): Promise<FirstEntry> {
  // An error of the stream while tar-stream loads is kept and thrown, not left unhandled.
  let early: { error: unknown } | undefined;
  const onEarly = (error: unknown) => (early ??= { error });
  stream.on('error', onEarly);
  const { extract } = await tarStream();
  stream.off('error', onEarly);
  if (early) {
    stream.destroy();
    throw early.error;
  }
  return new Promise((resolve, reject) => {
    const ex = extract();
    let settled = false;
    const done = (v: FirstEntry | Error) => {
      if (settled) return;
      settled = true;
      stream.unpipe(ex);
      stream.destroy();
      ex.destroy();
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    ex.on('entry', (header, body) => {
      const meta = { type: header.type ?? 'file', size: header.size ?? 0, mode: header.mode ?? 0o644 };
      if (meta.type !== 'file' || meta.size > maxBytes) {
        body.resume();
        done(meta);
        return;
      }
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => chunks.push(c as Buffer));
      body.on('end', () => done({ ...meta, content: Buffer.concat(chunks) }));
    });
    ex.on('finish', () => done(new Error('the archive is empty')));
    ex.on('error', (e) => done(e));
    stream.on('error', (e) => done(e));
    stream.pipe(ex);
  });
}
