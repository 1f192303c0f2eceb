/**
 * The file in which the bundle's loader (bundle-loader.ts) keeps V8's compiled code between runs:
 * one file per build and command, holding the cached data of each bundle file that command
 * loaded. Pure functions; the loader does the reading and writing.
 *
 * Layout: a 4-byte little-endian length, then that many bytes of JSON — `[[file, bytes], …]` —
 * then each file's cached data in that order.
 */

/** V8's cached data by bundle file (its path inside dist/). */
export type CodeCache = Map<string, Uint8Array>;

/** The bytes of a code cache file. */
export function encodeCodeCache(cache: CodeCache): Buffer {
  const index = Buffer.from(JSON.stringify([...cache].map(([file, data]) => [file, data.length])), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32LE(index.length);
  return Buffer.concat([head, index, ...cache.values()]);
}

/**
 * A code cache file's entries; empty when the bytes are not one (a file cut short by a crash, or
 * written by another layout): the loader then compiles from source and writes the file anew.
 */
export function decodeCodeCache(bytes: Buffer): CodeCache {
  const cache: CodeCache = new Map();
  if (bytes.length < 4) return cache;
  const indexEnd = 4 + bytes.readUInt32LE(0);
  let index: unknown;
  try {
    index = JSON.parse(bytes.toString('utf8', 4, indexEnd));
  } catch {
    return cache;
  }
  if (!Array.isArray(index)) return cache;
  let at = indexEnd;
  for (const entry of index) {
    const [file, length] = Array.isArray(entry) ? entry : [];
    if (typeof file !== 'string' || !Number.isSafeInteger(length) || length < 0 || at + length > bytes.length)
      return new Map();
    cache.set(file, bytes.subarray(at, at + length));
    at += length;
  }
  return at === bytes.length ? cache : new Map();
}

/**
 * The cache file of one build and one command line: named after the command (the first word
 * that is not an option), since each command compiles its own part of the bundle. Words that
 * are not a command's shape share one file, so a typo cannot add files.
 */
export function codeCacheFileName(buildId: string, argv: readonly string[]): string {
  const word = argv.find((a) => !a.startsWith('-')) ?? '';
  return `${buildId}-${/^[a-z][a-z-]{0,23}$/.test(word) ? word : 'other'}.bin`;
}

/**
 * Whether the loader may run a cache file's code: V8 runs cached data as compiled code, so only
 * a file that the user running molt owns and that nobody else can write (a cache under a shared
 * directory named by MOLT_CODE_CACHE, a file another user left) is used.
 */
export function trustedCacheFile(file: { uid: number; mode: number }, uid: number | undefined): boolean {
  return (uid === undefined || file.uid === uid) && (file.mode & 0o022) === 0;
}

/**
 * Files of other builds in the cache directory (their caches, and temporary files a crash left):
 * the loader removes them when it writes one of its own build.
 */
export function otherBuildsFiles(names: readonly string[], buildId: string): string[] {
  return names.filter((n) => !n.startsWith(`${buildId}-`));
}
