/**
 * A 2-role release app (3 + 2 members) upgraded role-parallel, against baselines from the same
 * run: the slowest role upgraded on its own (an app of just role a, 3 members, hooks included —
 * what perfect role-parallelism would cost), alternating with the 2-role upgrade; and its
 * members' own upgrade times — the sum of all of them (what a serial walk would cost) and the
 * slowest role's member times alone (no role/cluster hooks: what remains is the hooks' tail).
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
  const ratios = { vsSoloRole: [] as number[], vsMemberTimes: [] as number[], vsSerial: [] as number[], wall: [] as number[], rollout: [] as number[], solo: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    const app = (name: string, rel: string, roles: { name: string; members: number }[]) => ({ apiVersion: 'molt.dev/v1alpha1', kind: 'App', metadata: { name }, spec: { release: rel, roles, network } });
    const both = (rel: string) => app(`br${i}`, rel, [{ name: 'a', members: 3 }, { name: 'b', members: 2 }]);
    const solo = (rel: string) => app(`bs${i}`, rel, [{ name: 'a', members: 3 }]);
    await runMolt(h, home, ['apply', '-f', file(`br${i}-1.yaml`, [both('kv-1'), solo('kv-1')])]);
    // Alternate which upgrade goes first, so drift in the machine's load favours neither.
    const upgradeBoth = () => runMolt(h, home, ['apply', '-f', file(`br${i}-2.yaml`, [both('kv-2')])]);
    const upgradeSolo = () => runMolt(h, home, ['apply', '-f', file(`bs${i}-2.yaml`, [solo('kv-2')])]);
    if (i % 2 === 1) await upgradeSolo();
    const usage = await upgradeBoth();
    if (i % 2 === 0) await upgradeSolo();
    const { perRole, rolloutMs } = memberTimes(home, `br${i}`);
    const soloMs = memberTimes(home, `bs${i}`).rolloutMs;
    const roleSums = Object.values(perRole).map((xs) => xs.reduce((a, b) => a + b, 0));
    ratios.wall.push(usage.wallMs);
    ratios.rollout.push(rolloutMs);
    ratios.solo.push(soloMs);
    ratios.vsSoloRole.push(rolloutMs / soloMs);
    ratios.vsMemberTimes.push(rolloutMs / Math.max(...roleSums));
    ratios.vsSerial.push(rolloutMs / roleSums.reduce((a, b) => a + b, 0));
    await runMolt(h, home, ['delete', `br${i}`, '--volumes']);
    await runMolt(h, home, ['delete', `bs${i}`, '--volumes']);
  }
  return {
    'molt process wall ms, 3 + 2 members (median; includes start-up)': median(ratios.wall),
    'rollout wall ms, 3 + 2 members (journal: rollout start → end, incl. hooks)': median(ratios.rollout),
    'rollout wall ms, role a alone (3 members, incl. its hooks): the baseline': median(ratios.solo),
    'ratio rollout / slowest role upgraded on its own (target ≤ 1.1)': median(ratios.vsSoloRole),
    'ratio rollout / slowest role\'s member times only (the rest is the role + cluster hooks)': median(ratios.vsMemberTimes),
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
