/**
 * Fleet throughput: FLEET_APPS single-member apps (default 200) upgraded by one UpgradeTask at
 * concurrency 1, 8 and 16, against the hand-run baseline measured in the same run — `podman
 * rm -f` + `podman run` (same volume, same IP) over as many containers, in a serial loop and
 * with 8 and 16 replacements in flight (what the engine can do at that concurrency). Reported
 * as apps per minute and as ratios molt/raw (above 1: molt is faster); molt's peak RSS and CPU
 * per run. The baseline does less than molt: no readiness probe, no snapshot, no
 * rollback path, no journal — the ratio is the price (or gain) of doing it safely.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { PodmanHarness } from '../test/e2e/harness.ts';
import { appDoc, buildApp } from '../test/e2e/molt-cli.ts';
import { runMolt, type MoltUsage } from './lib.ts';

const REPO = 'localhost/bench-fleet';
const CONCURRENCY = [1, 8, 16] as const;
const VERSIONS = ['1.0.0-1', '1.1.0-1', '1.2.0-1', '1.3.0-1'] as const;

/** Runs the fleet benchmark; `rounds` is unused (one pass of each is already N upgrades). */
export async function benchFleet(
  h: PodmanHarness,
  _rounds: number,
  apps = Number(process.env.FLEET_APPS ?? 200),
): Promise<Record<string, number>> {
  if (!Number.isInteger(apps) || apps < 1 || apps > 240)
    throw new Error(`FLEET_APPS must be 1..240 (one /24 per side), got ${process.env.FLEET_APPS}`);
  for (const v of VERSIONS) await buildApp(h, REPO, v);
  const say = (line: string): void => void process.stderr.write(`  fleet: ${line}\n`);
  const raw = await rawLoop(h, apps, say);
  const rawSeconds = raw.get(1) ?? NaN;
  const home = join(h.dir, 'bench-fleet-home');
  const network = { name: h.name('bfleet'), subnet: h.freeSubnet() };
  say(`installing ${apps} apps with molt…`);
  await install(h, home, apps, network);
  const runs: Array<{ concurrency: number; seconds: number; usage: MoltUsage }> = [];
  for (const [i, concurrency] of CONCURRENCY.entries()) {
    const to = VERSIONS[i + 1] ?? '';
    const file = join(h.dir, `bench-task-${concurrency}.yaml`);
    writeFileSync(
      file,
      stringify({
        apiVersion: 'molt.dev/v1alpha1',
        kind: 'UpgradeTask',
        metadata: { name: `fleet-c${concurrency}` },
        spec: { target: { selector: { matchLabels: { bench: 'fleet' } } }, toVersion: to, options: { concurrency } },
      }),
    );
    await runMolt(h, home, ['task', 'apply', '-f', file]);
    say(`molt task, concurrency ${concurrency}: ${apps} upgrades to ${to}…`);
    const usage = await runMolt(h, home, ['task', 'run', `fleet-c${concurrency}`]);
    runs.push({ concurrency, seconds: usage.wallMs / 1000, usage });
    say(`  ${(usage.wallMs / 1000).toFixed(1)} s, peak RSS ${(usage.maxRssKiB / 1024).toFixed(0)} MiB`);
  }
  const perMinute = (seconds: number): number => (apps / seconds) * 60;
  const figures: Record<string, number> = {
    apps: apps,
    'raw podman rm -f + run, serial: apps/min': perMinute(rawSeconds),
  };
  for (const [c, seconds] of raw)
    if (c > 1) figures[`raw podman rm -f + run, ${c} in flight: apps/min`] = perMinute(seconds);
  for (const r of runs) figures[`molt task concurrency ${r.concurrency}: apps/min`] = perMinute(r.seconds);
  for (const r of runs) figures[`ratio molt c${r.concurrency} / raw serial (throughput)`] = rawSeconds / r.seconds;
  for (const r of runs)
    if (raw.has(r.concurrency) && r.concurrency > 1)
      figures[`ratio molt c${r.concurrency} / raw c${r.concurrency} (throughput; target ≥ 0.8)`] =
        (raw.get(r.concurrency) ?? NaN) / r.seconds;
  for (const r of runs)
    figures[`molt c${r.concurrency}: peak RSS MiB (target ≤ 150 at 200 apps)`] = r.usage.maxRssKiB / 1024;
  for (const r of runs)
    figures[`molt c${r.concurrency}: CPU ms per app (user+sys)`] = (r.usage.userMs + r.usage.systemMs) / apps;
  return figures;
}

/** Installs the fleet through molt: a few molt processes in parallel, explicit IPs. */
async function install(
  h: PodmanHarness,
  home: string,
  apps: number,
  network: { name: string; subnet: string },
): Promise<void> {
  const base = network.subnet.split('.').slice(0, 3).join('.');
  const docs = Array.from({ length: apps }, (_, i) => {
    const d = appDoc({
      name: `fleet-${String(i).padStart(3, '0')}`,
      version: VERSIONS[0],
      image: `${REPO}:${VERSIONS[0]}`,
      network: network.name,
      subnet: network.subnet,
      ipv4: `${base}.${10 + i}`,
    }) as { metadata: { labels: Record<string, string> }; spec: { probes: { startup: Record<string, unknown> } } };
    d.metadata.labels = { bench: 'fleet' };
    d.spec.probes.startup = { exec: ['cat', '/tmp/ready'], periodSeconds: 0.1, failureThreshold: 100 };
    return stringify(d);
  });
  const chunks = 4;
  await Promise.all(
    Array.from({ length: chunks }, (_, c) => {
      const mine = docs.filter((_, i) => i % chunks === c);
      if (mine.length === 0) return Promise.resolve();
      const file = join(h.dir, `bench-fleet-install-${c}.yaml`);
      writeFileSync(file, mine.join('---\n'));
      return runMolt(h, home, ['apply', '-f', file]);
    }),
  );
}

/**
 * The baseline: as many containers replaced by hand, the way an operator would script it —
 * `podman rm -f` then `podman run -d` with the same volume and IP — one after the other, then
 * with as many in flight as each molt concurrency. Returns the seconds by concurrency; its
 * containers are removed afterwards so both sides run beside the same number of containers.
 */
async function rawLoop(h: PodmanHarness, apps: number, say: (line: string) => void): Promise<Map<number, number>> {
  const network = { name: h.name('braw'), subnet: h.freeSubnet() };
  const base = network.subnet.split('.').slice(0, 3).join('.');
  await h.engine.createNetwork(network.name, network.subnet);
  const run = (i: number, version: string) => [
    'run',
    '-d',
    '--name',
    `raw-${i}`,
    '--network',
    network.name,
    '--ip',
    `${base}.${10 + i}`,
    '-v',
    `raw-${i}-data:/data`,
    `${REPO}:${version}`,
  ];
  say(`creating ${apps} raw containers (not timed)…`);
  for (let i = 0; i < apps; i += 8) {
    await Promise.all(Array.from({ length: Math.min(8, apps - i) }, (_, k) => podman(h, run(i + k, VERSIONS[0]))));
  }
  const seconds = new Map<number, number>();
  for (const [i, concurrency] of CONCURRENCY.entries()) {
    say(`raw loop, ${concurrency} in flight: ${apps} × (podman rm -f + podman run)…`);
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let k = next++; k < apps; k = next++) {
          await podman(h, ['rm', '-f', `raw-${k}`]);
          await podman(h, run(k, VERSIONS[i + 1] ?? ''));
        }
      }),
    );
    seconds.set(concurrency, (performance.now() - started) / 1000);
    say(`  ${seconds.get(concurrency)!.toFixed(1)} s`);
  }
  await podman(h, ['rm', '-f', '--time', '0', ...Array.from({ length: apps }, (_, i) => `raw-${i}`)]);
  // Volumes hold host-wide podman locks (2048 in all): give them back before molt's fleet needs its own.
  await podman(h, ['volume', 'rm', '--force', ...Array.from({ length: apps }, (_, i) => `raw-${i}-data`)]);
  return seconds;
}

async function podman(h: PodmanHarness, args: string[]): Promise<void> {
  const r = await h.podman(args, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr}`);
}
