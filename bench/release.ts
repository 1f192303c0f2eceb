/**
 * A 2-role release app (3 + 2 members) upgraded role-parallel: the rollout's wall time against
 * its members' own upgrade times from the same run — the sum of all of them (what a serial
 * walk would cost) and the slowest role's sequential sum (the floor role-parallelism allows).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DatabaseSync } from 'node:sqlite';
import type { PodmanHarness } from '../test/e2e/harness.ts';
import { kvImage, kvRelease } from '../test/e2e/kv-app.ts';
import { median, runMolt } from './lib.ts';

/** Runs `rounds` install + upgrade cycles and reports the medians. */
export async function benchRelease(h: PodmanHarness, rounds: number): Promise<Record<string, number>> {
  const home = join(h.dir, 'bench-release-home');
  const network = { name: h.name('brel'), subnet: h.freeSubnet() };
  const [v1, v2] = await Promise.all([kvImage(h, '1.0.0-1'), kvImage(h, '2.0.0-1')]);
  const file = (name: string, docs: unknown[]) => {
    const f = join(h.dir, name);
    writeFileSync(f, docs.map((d) => stringify(d)).join('---\n'));
    return f;
  };
  await runMolt(h, home, ['apply', '-f', file('releases.yaml', [kvRelease('kv-1', '1.0.0-1', v1, true), kvRelease('kv-2', '2.0.0-1', v2, true)])]);
  const ratios = { vsSlowestRole: [] as number[], vsSerial: [] as number[], wall: [] as number[], rollout: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    const app = (rel: string) => ({ apiVersion: 'molt.dev/v1alpha1', kind: 'App', metadata: { name: `br${i}` }, spec: { release: rel, roles: [{ name: 'a', members: 3 }, { name: 'b', members: 2 }], network } });
    await runMolt(h, home, ['apply', '-f', file(`br${i}-1.yaml`, [app('kv-1')])]);
    const usage = await runMolt(h, home, ['apply', '-f', file(`br${i}-2.yaml`, [app('kv-2')])]);
    const { perRole, rolloutMs } = memberTimes(home, `br${i}`);
    const roleSums = Object.values(perRole).map((xs) => xs.reduce((a, b) => a + b, 0));
    ratios.wall.push(usage.wallMs);
    ratios.rollout.push(rolloutMs);
    ratios.vsSlowestRole.push(rolloutMs / Math.max(...roleSums));
    ratios.vsSerial.push(rolloutMs / roleSums.reduce((a, b) => a + b, 0));
    await runMolt(h, home, ['delete', `br${i}`, '--volumes']);
  }
  return {
    'molt process wall ms, 3 + 2 members (median; includes start-up)': median(ratios.wall),
    'rollout wall ms (journal: rollout start → end, incl. hooks)': median(ratios.rollout),
    'ratio rollout / slowest role\'s sequential member time (target ≤ 1.1)': median(ratios.vsSlowestRole),
    'ratio rollout / sum of all member times (a serial walk = 1)': median(ratios.vsSerial),
  };
}

/** Each role's member upgrade durations (member-started → member-upgraded) of the app's last rollout. */
function memberTimes(home: string, app: string): { perRole: Record<string, number[]>; rolloutMs: number } {
  const db = new DatabaseSync(join(home, 'state.db'), { readOnly: true });
  try {
    const rows = db.prepare(`SELECT e.role AS role, e.member AS member, e.event AS event, e.at AS at FROM rollout_events e
      WHERE e.rollout_id = (SELECT max(id) FROM rollouts WHERE app = ?) AND e.event IN ('member-started', 'member-upgraded') ORDER BY e.id`).all(app) as { role: string; member: string; event: string; at: string }[];
    const started = new Map<string, number>();
    const out: Record<string, number[]> = {};
    for (const r of rows) {
      if (r.event === 'member-started') started.set(r.member, Date.parse(r.at));
      else (out[r.role] ??= []).push(Date.parse(r.at) - (started.get(r.member) ?? Date.parse(r.at)));
    }
    const r = db.prepare('SELECT started_at AS a, finished_at AS b FROM rollouts WHERE app = ? ORDER BY id DESC LIMIT 1').get(app) as { a: string; b: string };
    return { perRole: out, rolloutMs: Date.parse(r.b) - Date.parse(r.a) };
  } finally {
    db.close();
  }
}
