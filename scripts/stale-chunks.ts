/**
 * The chunks of earlier builds that can go. A rebuild leaves the chunks of the build before it
 * (a molt that was running then still imports them lazily), so dist/chunks/ grew by a few
 * hundred files per build; a chunk that no build has written for `graceMs` is removed.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A day: longer than any one molt command runs (a `molt up` that outlives it is restarted with molt). */
export const CHUNK_GRACE_MS = 24 * 60 * 60 * 1000;

/** The files of `dir` not in `current` and last written more than `graceMs` before `now`. */
export function staleChunks(
  dir: string,
  current: ReadonlySet<string>,
  now: number,
  graceMs = CHUNK_GRACE_MS,
): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => !current.has(name) && now - statSync(join(dir, name)).mtimeMs > graceMs).sort();
}
