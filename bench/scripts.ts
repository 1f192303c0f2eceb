/**
 * An upgrade with scripts and a volume snapshot: the ledger example (pre-upgrade export in the
 * old container, post-upgrade migration in the new) on a volume holding 100 MiB, with
 * snapshots on vs off in the same run; the snapshot's share of the upgrade's wall time.
 */

import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { buildLedgerImage, ledgerManifest } from '../src/examples/ledger.ts';
import type { PodmanHarness } from '../test/e2e/harness.ts';
import { median, runMolt } from './lib.ts';

/** Measures `rounds` upgrades with and without snapshots of a volume of `mib` MiB. */
export async function benchScripts(
  h: PodmanHarness,
  rounds: number,
  mib = Number(process.env.BENCH_VOLUME_MIB ?? 100),
): Promise<Record<string, number>> {
  const repo = 'localhost/bench-ledger';
  await buildLedgerImage(h.engine, repo, '1.0.0-1');
  await buildLedgerImage(h.engine, repo, '2.0.0-1');
  const network = { name: h.name('bscripts'), subnet: h.freeSubnet() };
  const home = join(h.dir, 'bench-scripts-home');
  const samples: Record<'on' | 'off', { wallMs: number; snapshotMs: number }[]> = { on: [], off: [] };
  for (let i = 0; i < rounds * 2; i++) {
    const mode = i % 2 === 0 ? 'on' : 'off';
    const name = `bledger${i}`;
    const file = (version: string) => {
      const f = join(h.dir, `${name}-${version}.yaml`);
      writeFileSync(
        f,
        ledgerManifest({
          name,
          version,
          image: `${repo}:${version}`,
          network,
          upgrade: { snapshotVolumes: mode === 'on' },
        }),
      );
      return f;
    };
    await runMolt(h, home, ['apply', '-f', file('1.0.0-1')]);
    const id = (await h.engine.inspectContainer(name))!.id;
    await h.engine.exec(id, [
      'sh',
      '-c',
      `dd if=/dev/urandom of=/var/lib/ledger/blob bs=1M count=${mib} 2>/dev/null; seq 1 1000 > /var/lib/ledger/ledger.txt`,
    ]);
    const usage = await runMolt(h, home, ['apply', '-f', file('2.0.0-1')]);
    samples[mode].push({ wallMs: usage.wallMs, snapshotMs: await stepMs(home, name, 'SnapshotVolumes') });
    await runMolt(h, home, ['delete', name, '--volumes']);
  }
  const on = median(samples.on.map((s) => s.wallMs));
  const off = median(samples.off.map((s) => s.wallMs));
  const snap = median(samples.on.map((s) => s.snapshotMs));
  return {
    [`upgrade with scripts + ${mib} MiB snapshot, ms (median)`]: on,
    'same upgrade without snapshot, ms (median)': off,
    'ratio with/without snapshot': on / off,
    'snapshot step ms (median)': snap,
    'snapshot share of the upgrade': snap / on,
  };
}

/** The duration of a step of the app's last operation, from molt's journal. */
async function stepMs(home: string, app: string, step: string): Promise<number> {
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(join(home, 'state.db'), { readOnly: true });
  try {
    const row = db
      .prepare(
        'SELECT s.started_at AS a, s.finished_at AS b FROM steps s JOIN operations o ON o.id = s.operation_id WHERE o.app = ? AND s.name = ? ORDER BY s.id DESC LIMIT 1',
      )
      .get(app, step) as { a: string; b: string } | undefined;
    return row ? Date.parse(row.b) - Date.parse(row.a) : NaN;
  } finally {
    db.close();
  }
}
