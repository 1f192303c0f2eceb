/**
 * `npm run bench`: molt's speed and memory figures, each against a baseline measured in the
 * same run on the same machine, printed as a table. Uses a private Podman like the tests.
 * BENCH_ROUNDS sets how many upgrades each side makes (default 7).
 */
import { startPodman } from '../test/e2e/harness.ts';
import { benchDowntime } from './downtime.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const h = await startPodman();
try {
  process.stderr.write(`bench: downtime of ${rounds} upgrades, molt vs raw podman (alternating)…\n`);
  const figures = await benchDowntime(h, rounds);
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  process.stdout.write('\nmolt benchmarks\n');
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`  ${k.padEnd(width)}  ${Number.isInteger(v) ? v : v.toFixed(2)}\n`);
} finally {
  await h.stop();
}
