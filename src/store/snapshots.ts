/**
 * Volume snapshots: tar files of an app's volumes under `$MOLT_HOME/snapshots/<app>/<operation>/`,
 * made and restored with GNU tar directly on the volume's host directory, so contents,
 * ownership, modes, timestamps and symlinks come back exactly (the engines' archive API drops
 * file ownership). Needs molt on the engine's host with access to its volume directories.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SnapshotError } from '../core/errors.ts';

/**
 * GNU tar copied a volume whose files changed while it read them (exit 1, "file changed as we
 * read it"): the archive is complete but not one moment's state. Copied again with the app frozen.
 */
export class VolumeChangedError extends SnapshotError {}

/** One saved volume. */
export interface SnapshotEntry {
  volume: string;
  file: string;
  bytes: number;
}

/** One operation's set of snapshots. */
export interface SnapshotSet {
  operation: number;
  dir: string;
  createdAt: string;
  entries: SnapshotEntry[];
}

/** The snapshot files of one molt home. */
export class SnapshotFiles {
  readonly root: string;

  constructor(home: string) {
    this.root = join(home, 'snapshots');
  }

  dir(app: string, operation: number): string {
    return join(this.root, app, String(operation));
  }

  /** Saves the volume at `mountpoint` as `<volume>.tar` of the operation (atomically: .partial, then rename). */
  async save(
    app: string,
    operation: number,
    volume: string,
    mountpoint: string,
    signal?: AbortSignal,
  ): Promise<SnapshotEntry> {
    assertDirectory(mountpoint, volume);
    const dir = this.dir(app, operation);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const file = join(dir, `${volume}.tar`);
    await tar(
      ['--create', '--file', `${file}.partial`, '--directory', mountpoint, '--numeric-owner', '--sparse', '.'],
      signal,
    );
    chmodSync(`${file}.partial`, 0o600);
    renameSync(`${file}.partial`, file);
    return { volume, file, bytes: statSync(file).size };
  }

  /**
   * Makes the volume at `mountpoint` exactly the snapshot again. What it held before is first
   * saved beside the snapshot as `<volume>.displaced.tar`, so even a rollback loses nothing.
   */
  async restore(entry: SnapshotEntry, mountpoint: string): Promise<string> {
    assertDirectory(mountpoint, entry.volume);
    if (!existsSync(entry.file)) throw new SnapshotError(`snapshot ${entry.file} of volume ${entry.volume} is missing`);
    const displaced = entry.file.replace(/\.tar$/, '.displaced.tar');
    if (!existsSync(displaced)) {
      await tar([
        '--create',
        '--file',
        `${displaced}.partial`,
        '--directory',
        mountpoint,
        '--numeric-owner',
        '--sparse',
        '.',
      ]);
      chmodSync(`${displaced}.partial`, 0o600);
      renameSync(`${displaced}.partial`, displaced);
    }
    for (const name of readdirSync(mountpoint)) rmSync(join(mountpoint, name), { recursive: true, force: true });
    await tar([
      '--extract',
      '--file',
      entry.file,
      '--directory',
      mountpoint,
      '--numeric-owner',
      '--preserve-permissions',
      '--same-owner',
    ]);
    return displaced;
  }

  /** The app's snapshot sets, oldest first. */
  list(app: string): SnapshotSet[] {
    const base = join(this.root, app);
    if (!existsSync(base)) return [];
    return readdirSync(base)
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .sort((a, b) => a - b)
      .map((operation) => {
        const dir = this.dir(app, operation);
        const entries = readdirSync(dir)
          .filter((f) => f.endsWith('.tar'))
          .map((f) => ({ volume: f.replace(/\.tar$/, ''), file: join(dir, f), bytes: statSync(join(dir, f)).size }));
        return { operation, dir, createdAt: statSync(dir).mtime.toISOString(), entries };
      });
  }

  /** Deletes all but the newest `keep` sets of the app; returns the operations removed. */
  prune(app: string, keep: number): number[] {
    const sets = this.list(app);
    const doomed = sets.slice(0, Math.max(0, sets.length - keep));
    for (const s of doomed) rmSync(s.dir, { recursive: true, force: true });
    return doomed.map((s) => s.operation);
  }

  /** Deletes every snapshot of the app. */
  removeAll(app: string): void {
    rmSync(join(this.root, app), { recursive: true, force: true });
  }
}

function assertDirectory(mountpoint: string, volume: string): void {
  if (!mountpoint || !existsSync(mountpoint) || !statSync(mountpoint).isDirectory()) {
    throw new SnapshotError(
      `volume ${volume}'s directory ${mountpoint || '(unknown)'} is not reachable from molt`,
      "Volume snapshots need molt on the engine's host (a local Podman/Docker). For a remote engine set spec.upgrade.snapshotVolumes: false.",
    );
  }
}

function tar(args: string[], signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    // node:child_process loads with the first snapshot, not with every command that opens the store.
    const child = process
      .getBuiltinModule('node:child_process')
      .spawn('tar', args, { stdio: ['ignore', 'ignore', 'pipe'], signal });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', (e) => reject(new SnapshotError(`tar could not run: ${e.message}`)));
    child.once('close', (code) => {
      if (code === 0) return resolve();
      const message = `tar ${args[0]} failed (exit ${code}): ${err.trim().slice(-500)}`;
      const changed = code === 1 && args[0] === '--create' && /file changed as we read it/.test(err);
      reject(changed ? new VolumeChangedError(message) : new SnapshotError(message));
    });
  });
}
