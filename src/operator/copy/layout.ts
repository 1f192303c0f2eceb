/**
 * Where a copy Job mounts the claims of one member (volume-copy.ts builds the Job, main.ts
 * runs in it): the member's claim of volume V at /molt/volumes/V, the operation's copy claim
 * at /molt/copies/V (holding V.tar), and on a restore the claim that keeps what the volume
 * held at /molt/displaced/V (holding V.displaced.tar) — the file names of the local engine.
 */

export const COPY_ROOT = '/molt';

export function volumeDir(volume: string): string {
  return `${COPY_ROOT}/volumes/${volume}`;
}

export function copyDir(volume: string): string {
  return `${COPY_ROOT}/copies/${volume}`;
}

export function displacedDir(volume: string): string {
  return `${COPY_ROOT}/displaced/${volume}`;
}

export function copyFile(volume: string): string {
  return `${copyDir(volume)}/${volume}.tar`;
}

export function displacedFile(volume: string): string {
  return `${displacedDir(volume)}/${volume}.displaced.tar`;
}

/** What a copy Job reports in its termination message (JSON), per volume. */
export interface CopyReport {
  volumes: Record<string, { bytes: number; entries: number; notKept: number }>;
}
