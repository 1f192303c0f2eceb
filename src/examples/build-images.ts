/**
 * `examples/build-images [notes|ledger]…`: builds the example apps' images offline (Debian's
 * busybox-static plus the files under examples/) into the engine molt would use — the same
 * discovery as the molt command (CONTAINER_HOST, DOCKER_HOST, the Podman and Docker sockets,
 * else a Podman service molt starts) — tagged as examples/*\/*.yaml name them.
 */
import { connectEngine, say } from '../cli/context.ts';
import { buildLedgerImage } from './ledger.ts';
import { buildNotesImage } from './notes.ts';
import type { ContainerEngine } from '../engines/types.ts';

/** Each example: the versions its manifests use and how to build one. */
export const EXAMPLE_IMAGES: Record<
  string,
  {
    repo: string;
    versions: string[];
    build: (engine: ContainerEngine, repo: string, version: string) => Promise<string>;
  }
> = {
  notes: { repo: 'localhost/notes', versions: ['1.0.0-1', '1.1.0-1'], build: (e, r, v) => buildNotesImage(e, r, v) },
  ledger: { repo: 'localhost/ledger', versions: ['1.0.0-1', '2.0.0-1'], build: buildLedgerImage },
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in EXAMPLE_IMAGES));
if (unknown.length > 0) {
  say(`error: unknown example ${unknown.join(', ')}; known: ${Object.keys(EXAMPLE_IMAGES).join(', ')}`);
  process.exit(1);
}
const engine = await connectEngine({ engine: process.env.MOLT_ENGINE });
for (const name of wanted.length > 0 ? wanted : Object.keys(EXAMPLE_IMAGES)) {
  const example = EXAMPLE_IMAGES[name]!;
  for (const version of example.versions) say(`built ${await example.build(engine, example.repo, version)}`);
}
