/**
 * Builds the real-database example images into the local Podman from Debian packages:
 *
 *   node_modules/node/bin/node scripts/example-images.ts [postgres] [valkey]   (default: both)
 *   npm run example-images -- postgres
 *
 * The rootfs tars are cached in $MOLT_IMAGE_CACHE (default ~/.cache/molt-images); a warm run
 * only imports and layers. Extra podman flags (e.g. --root DIR) can be given in
 * MOLT_PODMAN_ARGS, split on spaces.
 */
import { spawn } from 'node:child_process';
import {
  buildExampleImages,
  EXAMPLE_SETS,
  type ExampleImageName,
  type PodmanResult,
} from '../src/examples/databases.ts';
import { imageCacheDir } from '../src/examples/debian-rootfs.ts';

const sets = process.argv.slice(2);
for (const s of sets) {
  if (!(s in EXAMPLE_SETS)) {
    console.error(
      `example-images: unknown example ${JSON.stringify(s)}; choose from ${Object.keys(EXAMPLE_SETS).join(', ')}`,
    );
    process.exit(1);
  }
}
const names = (sets.length > 0 ? sets : Object.keys(EXAMPLE_SETS)).flatMap(
  (s) => EXAMPLE_SETS[s as keyof typeof EXAMPLE_SETS],
) as ExampleImageName[];
const extra = (process.env.MOLT_PODMAN_ARGS ?? '').split(' ').filter((a) => a !== '');

function podman(args: string[]): Promise<PodmanResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('podman', [...extra, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const started = Date.now();
try {
  const report = await buildExampleImages(podman, names, { log: (line) => console.error(`example-images: ${line}`) });
  for (const r of report.rootfs) {
    const versions = Object.entries(r.versions)
      .map(([p, v]) => `${p} ${v}`)
      .join(', ');
    console.error(
      `example-images: ${r.suite} rootfs ${r.cached ? 'from the cache' : `built in ${r.buildSeconds} s`} (${(r.bytes / 2 ** 20).toFixed(0)} MiB; ${versions})`,
    );
  }
  console.error(
    `example-images: rootfs ${report.rootfsSeconds.toFixed(1)} s, import ${report.importSeconds.toFixed(1)} s, layers ${report.layerSeconds.toFixed(1)} s; total ${((Date.now() - started) / 1000).toFixed(1)} s (cache: ${imageCacheDir()})`,
  );
  for (const tag of report.tags) console.log(tag);
} catch (error) {
  console.error(`example-images: ${(error as Error).message}`);
  process.exit(1);
}
