/**
 * `npm run bench [-- SUITE…]`: molt's speed and memory figures, each against a baseline
 * measured in the same run on the same machine, printed as tables. Uses a private Podman like
 * the tests. BENCH_ROUNDS sets how many upgrades each side makes (default 5).
 */
import { startPodman, type PodmanHarness } from '../test/e2e/harness.ts';
import { benchDowntime } from './downtime.ts';
import { benchFleet } from './fleet.ts';
import { benchScripts } from './scripts.ts';
import { benchRelease } from './release.ts';
import { benchRollback } from './rollback.ts';
import { benchStartup } from './startup.ts';

type Suite = (h: PodmanHarness, rounds: number) => Promise<Record<string, number>>;

/** Every benchmark suite, by name, in the order they run. */
const SUITES: Record<string, { title: string; run: Suite }> = {
  startup: { title: "CLI start-up: molt's own CPU and peak RSS vs node -e 0 (alternating)", run: benchStartup },
  downtime: { title: 'downtime of one upgrade: molt vs raw podman rm -f + run (alternating)', run: benchDowntime },
  rollback: {
    title:
      "rollback downtime of a new version failing its startup probe vs an upgrade's downtime plus the probe budget (alternating)",
    run: benchRollback,
  },
  fleet: {
    title:
      'fleet throughput: FLEET_APPS apps by one UpgradeTask at concurrency 1, 8, 16 vs raw podman rm -f + run, serial and at the same concurrency',
    run: benchFleet,
  },
  scripts: { title: 'upgrade with scripts and a volume snapshot', run: benchScripts },
  release: { title: 'a 2-role release app upgraded role-parallel', run: benchRelease },
  k8s: {
    title:
      'on the test/k8s cluster: a 3-member app upgraded by the molt operator vs a native StatefulSet RollingUpdate',
    run: (h, rounds) => import('./k8s.ts').then((m) => m.benchK8s(h, rounds)),
  },
};

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const chosen =
  process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(SUITES).filter((s) => s !== 'k8s'); // k8s: only when named (needs root and the test/k8s cluster)
for (const name of chosen) {
  const suite = SUITES[name];
  if (!suite) throw new Error(`unknown benchmark suite "${name}"; known: ${Object.keys(SUITES).join(', ')}`);
  const h = await startPodman();
  try {
    process.stderr.write(`bench ${name}: ${suite.title}, ${rounds} rounds…\n`);
    const figures = await suite.run(h, rounds);
    const width = Math.max(...Object.keys(figures).map((k) => k.length));
    process.stdout.write(`\n${name}: ${suite.title}\n`);
    for (const [k, v] of Object.entries(figures))
      process.stdout.write(`  ${k.padEnd(width)}  ${Number.isInteger(v) ? v : v.toFixed(2)}\n`);
  } finally {
    await h.stop();
  }
}
