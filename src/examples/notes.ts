/**
 * The "notes" example app (examples/notes): image specs for its versions and a manifest
 * builder. Shared by `molt demo`, the benchmarks and the end-to-end tests.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { ContainerEngine } from '../engines/types.ts';
import { busyboxContext, filesFrom, type BusyboxImageSpec } from './images.ts';

const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/notes', import.meta.url));

/** The image of one notes version; `broken` makes it exit at start with that reason. */
export function notesImage(version: string, broken?: string): BusyboxImageSpec {
  return {
    cmd: ['/app/start.sh'],
    env: { NOTES_VERSION: version, ...(broken ? { NOTES_BROKEN: broken } : {}) },
    files: {
      ...filesFrom(`${EXAMPLE_DIR}/www`, '/www'),
      '/app/start.sh': { content: readFileSync(`${EXAMPLE_DIR}/start.sh`), mode: 0o755 },
    },
  };
}

/** Builds the notes image for `version` with tag `repo:version`. */
export async function buildNotesImage(
  engine: ContainerEngine,
  repo: string,
  version: string,
  broken?: string,
): Promise<string> {
  const tag = `${repo}:${version}`;
  await engine.buildImage(tag, busyboxContext(notesImage(version, broken)));
  return tag;
}

/** Options for a notes App manifest. */
export interface NotesManifestOptions {
  name: string;
  version: string;
  image: string;
  network: { name: string; subnet: string; ipv4?: string };
  volume?: string;
}

/** A notes App manifest as YAML text. */
export function notesManifest(o: NotesManifestOptions): string {
  return stringify({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name: o.name, labels: { example: 'notes' } },
    spec: {
      package: 'examples/notes',
      version: o.version,
      image: o.image,
      volumes: [{ name: o.volume ?? `${o.name}-data`, mountPath: '/var/lib/notes' }],
      network: o.network,
      probes: { startup: { http: { port: 8080, path: '/cgi-bin/notes' }, periodSeconds: 0.5, failureThreshold: 20 } },
      stopTimeoutSeconds: 5,
    },
  });
}
