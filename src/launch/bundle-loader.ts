/**
 * dist/molt.cjs, the bundle's loader (scripts/build.ts builds it; bin/molt runs it). It runs the
 * bundle's files — CommonJS, one per lazily loaded part — as V8 scripts, and keeps their compiled
 * code between runs: when a run compiled code its cache did not hold, it saves, at exit, V8's
 * cached data of every file it loaded, *after* running, so the cache holds the functions the
 * command ran and not only each file's top level (all Node's own compile cache keeps). A
 * command's next run then compiles almost nothing: an upgrade ~27 % fewer instructions than
 * the same bundle as ES modules under Node's compile cache (docs/speed.md).
 *
 * The cache is an optimisation only: a missing, unreadable, foreign or corrupt file — or one V8
 * rejects (another Node, other flags) — means compiling from source, and writing fails quietly.
 */
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';
import {
  codeCacheFileName,
  decodeCodeCache,
  encodeCodeCache,
  otherBuildsFiles,
  trustedCacheFile,
} from './code-cache-file.ts';

/** Set by scripts/build.ts: the entry file (named by its content hash) and the build's id. */
declare const MOLT_BUNDLE_ENTRY: string;
declare const MOLT_BUILD_ID: string;

const dist = __dirname;
const cacheDir =
  process.env.MOLT_CODE_CACHE ||
  join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'molt', 'code-cache', process.versions.v8);
const cacheFile = join(cacheDir, codeCacheFileName(MOLT_BUILD_ID, process.argv.slice(2)));
const cached = readCache(cacheFile);
const modules = new Map<string, { exports: unknown }>();
const scripts = new Map<string, Script>();

function readCache(file: string) {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    return trustedCacheFile(fstatSync(fd), process.getuid?.()) ? decodeCodeCache(readFileSync(fd)) : new Map();
  } catch {
    return new Map<string, Uint8Array>();
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Runs one bundle file (once, like require) and returns its exports. */
function load(file: string): unknown {
  const known = modules.get(file);
  if (known) return known.exports;
  const module = { exports: {} };
  modules.set(file, module);
  const name = relative(dist, file);
  const cachedData = cached.get(name);
  // Bundle files are ASCII (scripts/build.ts): read as latin1, V8 holds them as one-byte strings.
  // Each is a function expression (bundle-file.ts), called with its module's arguments.
  const script = new Script(readFileSync(file, 'latin1'), { filename: file, cachedData });
  scripts.set(name, script);
  const here = dirname(file);
  const requireHere = (id: string) => (id.startsWith('.') ? load(join(here, id)) : require(id));
  // The arguments in BUNDLE_FILE_PARAMETERS' order (bundle-file.ts).
  (script.runInThisContext() as (...args: unknown[]) => void)(
    module.exports,
    requireHere,
    module,
    pathToFileURL(file).href,
  );
  return module.exports;
}

/** Saves the compiled code of every file this run loaded, beside what other runs of its command saved. */
function saveCache(): void {
  // Only when a file compiled from source: its cached data was missing or V8 rejected it.
  const compiledAnew = [...scripts].some(([name, script]) => !cached.has(name) || script.cachedDataRejected);
  if (!compiledAnew) return;
  try {
    const next = new Map(cached);
    for (const [name, script] of scripts) next.set(name, script.createCachedData());
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    for (const stale of otherBuildsFiles(readdirSync(cacheDir), MOLT_BUILD_ID))
      rmSync(join(cacheDir, stale), { force: true, recursive: true });
    // Written beside and renamed: a molt starting meanwhile reads the old file or the new one.
    const fresh = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(fresh, encodeCodeCache(next), { mode: 0o600 });
    renameSync(fresh, cacheFile);
  } catch {
    // A read-only or full disk: the next run compiles from source, as without a cache.
  }
}

process.once('exit', saveCache);
load(join(dist, MOLT_BUNDLE_ENTRY));
