/**
 * CLI start-up: the CPU time and peak RSS of `molt --version`, `molt get apps` (10 apps) and
 * one local upgrade of a busybox app (molt's own process; the engine's work is not counted),
 * each against `node -e 0` measured alternately in the same run. molt runs as users run it:
 * bin/molt, on the bundle (dist/, rebuilt by setup.sh when stale); `--version` from the
 * sources (MOLT_FROM_SOURCES=1) is reported beside it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { PodmanHarness } from '../test/e2e/harness.ts';
import { appDoc, buildApp } from '../test/e2e/molt-cli.ts';
import {
  countInstructions,
  cpuMs,
  median,
  MOLT_BIN,
  moltEnv,
  runMolt,
  runNode,
  valgrindInstalled,
  type MoltUsage,
} from './lib.ts';

const REPO = 'localhost/bench-startup';
const APPS = 10;

/** Measures `rounds` of each command, alternating with the baseline. */
export async function benchStartup(h: PodmanHarness, rounds: number): Promise<Record<string, number>> {
  // The last version is for the instruction count's upgrade.
  const versions = Array.from({ length: rounds + 2 }, (_, i) => `1.${i}.0-1`);
  await Promise.all(versions.map((v) => buildApp(h, REPO, v)));
  const home = join(h.dir, 'bench-startup-home');
  const network = { name: h.name('bstart'), subnet: h.freeSubnet() };
  const doc = (i: number, version: string, forceUpgrade = false) =>
    appDoc({
      name: `start-${i}`,
      version,
      image: `${REPO}:${version}`,
      network: network.name,
      subnet: network.subnet,
      forceUpgrade,
    });
  const file = join(h.dir, 'bench-startup-apps.yaml');
  writeFileSync(file, Array.from({ length: APPS }, (_, i) => stringify(doc(i, versions[0]!))).join('---\n'));
  await runMolt(h, home, ['apply', '-f', file]);

  const samples: Record<'node' | 'version' | 'sources' | 'get' | 'upgrade', MoltUsage[]> = {
    node: [],
    version: [],
    sources: [],
    get: [],
    upgrade: [],
  };
  // One warm-up of each: Node's compile cache is filled once per machine, not per call.
  await runNode(['-e', '0']);
  await runMolt(h, home, ['--version']);
  await runMolt(h, home, ['--version'], { env: { MOLT_FROM_SOURCES: '1' } });
  await runMolt(h, home, ['get', 'apps']);
  for (const v of versions.slice(1, -1)) {
    samples.node.push(await runNode(['-e', '0']));
    samples.version.push(await runMolt(h, home, ['--version']));
    samples.sources.push(await runMolt(h, home, ['--version'], { env: { MOLT_FROM_SOURCES: '1' } }));
    samples.get.push(await runMolt(h, home, ['get', 'apps']));
    const upgrade = join(h.dir, `bench-startup-${v}.yaml`);
    writeFileSync(upgrade, stringify(doc(0, v)));
    samples.upgrade.push(await runMolt(h, home, ['apply', '-f', upgrade]));
  }
  const instructions = valgrindInstalled()
    ? await countStartupInstructions(h, home, [
        stringify(doc(0, versions.at(-1)!, true)),
        stringify(doc(0, versions.at(-2)!, true)),
      ])
    : {};
  const cpu = (xs: MoltUsage[]) => median(xs.map(cpuMs));
  const rss = (xs: MoltUsage[]) => median(xs.map((u) => u.maxRssKiB / 1024));
  const nodeCpu = cpu(samples.node);
  const nodeRss = rss(samples.node);
  return {
    'node -e 0: CPU ms (median)': nodeCpu,
    'node -e 0: peak RSS MiB (median)': nodeRss,
    'molt --version: CPU ms': cpu(samples.version),
    'molt --version: peak RSS MiB': rss(samples.version),
    'molt --version: CPU / node (target ≤ 2)': cpu(samples.version) / nodeCpu,
    'molt --version: RSS / node (target ≤ 1.5)': rss(samples.version) / nodeRss,
    'molt --version from the sources: CPU / node': cpu(samples.sources) / nodeCpu,
    'molt --version from the sources: RSS / node': rss(samples.sources) / nodeRss,
    [`molt get apps (${APPS} apps): CPU ms`]: cpu(samples.get),
    [`molt get apps (${APPS} apps): CPU / node (target ≤ 2)`]: cpu(samples.get) / nodeCpu,
    [`molt get apps (${APPS} apps): RSS / node (target ≤ 1.5)`]: rss(samples.get) / nodeRss,
    'molt apply (one busybox upgrade): CPU ms': cpu(samples.upgrade),
    'molt apply (one busybox upgrade): peak RSS MiB': rss(samples.upgrade),
    'molt apply (one busybox upgrade): CPU / node (target ≤ 4)': cpu(samples.upgrade) / nodeCpu,
    ...instructions,
  };
}

/**
 * The same commands' instructions (valgrind), the median of
 * three runs each: a figure that moves far less with the machine's load than CPU time.
 */
async function countStartupInstructions(
  h: PodmanHarness,
  home: string,
  upgradeManifests: [string, string],
): Promise<Record<string, number>> {
  const env = moltEnv(h, home);
  const medianOf = async (count: () => Promise<number>) => {
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) runs.push(await count());
    return median(runs);
  };
  const node = await medianOf(() => countInstructions(process.execPath, ['-e', '0'], process.env));
  const ratio = async (args: () => string[]) => (await medianOf(() => countInstructions(MOLT_BIN, args(), env))) / node;
  // Each upgrade run goes to the other of two versions (a downgrade allowed by forceUpgrade).
  let turn = 0;
  const upgrade = () => {
    const file = join(h.dir, `bench-startup-instructions-${turn % 2}.yaml`);
    writeFileSync(file, turn++ % 2 === 0 ? upgradeManifests[0] : upgradeManifests[1]);
    return ['apply', '-f', file];
  };
  return {
    'instructions (valgrind, median of 3): node -e 0, millions': node / 1e6,
    'instructions: molt --version / node': await ratio(() => ['--version']),
    [`instructions: molt get apps (${APPS} apps) / node`]: await ratio(() => ['get', 'apps']),
    'instructions: molt apply (one busybox upgrade) / node': await ratio(upgrade),
  };
}
