/**
 * A 2-role release app (3 + 2 members) upgraded role-parallel, against baselines from the same
 * run: the slowest role upgraded on its own (an app of just role a, 3 members, hooks included —
 * what perfect role-parallelism would cost), alternating with the 2-role upgrade; and its
 * members' own upgrade times — the sum of all of them (what a serial walk would cost) and the
 * slowest role's member times alone (no role/cluster hooks: what remains is the hooks' tail).
 *
 * Two kinds of member: one that loads its data for 1 s before it is ready (what a database or
 * a kv store does on start: the workload the target is for), and one that is ready at once (the
 * worst case: nothing but container churn, where the two roles' runtime work — Podman, runc's
 * seccomp set-up for every start and exec — competes for the machine's CPUs).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DatabaseSync } from 'node:sqlite';
import type { PodmanHarness } from '../test/e2e/harness.ts';
import { kvImage, kvRelease } from '../test/e2e/kv-app.ts';
import { median, runMolt } from './lib.ts';

/** How the members of one measured workload behave. */
interface Workload {
  key: string;
  label: string;
  /** Seconds a member spends loading before it is ready (0: at once). */
  readyAfter: number;
  /** The startup probe's period (exec probe, as the kv release has it). */
  probePeriod: number;
}

const WORKLOADS: Workload[] = [
  { key: 'load-1s', label: 'members load 1 s before ready', readyAfter: 1, probePeriod: 0.5 },
  { key: 'instant', label: 'members ready at once (container churn only)', readyAfter: 0, probePeriod: 0.2 },
];

/** Runs both workloads and reports their medians. */
export async function benchRelease(h: PodmanHarness, rounds: number): Promise<Record<string, number>> {
  const figures: Record<string, number> = {};
  for (const w of WORKLOADS) {
    const r = await benchWorkload(h, rounds, w);
    const target = w.readyAfter > 0 ? ' (target ≤ 1.1)' : '';
    figures[`[${w.label}] rollout wall ms, 3 + 2 members (journal: rollout start → end, incl. hooks)`] = median(
      r.rollout,
    );
    figures[`[${w.label}] rollout wall ms, role a alone (3 members, incl. its hooks): the baseline`] = median(r.solo);
    figures[`[${w.label}] ratio rollout / slowest role upgraded on its own${target}`] = median(r.vsSoloRole);
    figures[`[${w.label}] ratio rollout / slowest role's member times only (the rest: role + cluster hooks)`] = median(
      r.vsMemberTimes,
    );
    figures[`[${w.label}] ratio rollout / sum of all member times (a serial walk = 1)`] = median(r.vsSerial);
    figures[`[${w.label}] molt process wall ms, 3 + 2 members (includes start-up)`] = median(r.wall);
  }
  return figures;
}

interface Samples {
  vsSoloRole: number[];
  vsMemberTimes: number[];
  vsSerial: number[];
  wall: number[];
  rollout: number[];
  solo: number[];
}

/** `rounds` install + upgrade cycles of one workload, the 2-role and the solo upgrade alternating. */
async function benchWorkload(h: PodmanHarness, rounds: number, w: Workload): Promise<Samples> {
  const home = join(h.dir, `bench-release-${w.key}`);
  const network = { name: h.name('brel'), subnet: h.freeSubnet() };
  const env: Record<string, string> = w.readyAfter > 0 ? { READY_AFTER: String(w.readyAfter) } : {};
  const [v1, v2] = await Promise.all([kvImage(h, `1.0.0-${w.key}`, env), kvImage(h, `2.0.0-${w.key}`, env)]);
  const file = (name: string, docs: unknown[]) => {
    const f = join(h.dir, `${w.key}-${name}`);
    writeFileSync(f, docs.map((d) => stringify(d)).join('---\n'));
    return f;
  };
  const release = (name: string, version: string, tag: string) => {
    const r = kvRelease(name, version, tag, true);
    for (const role of r.spec.roles) role.probes.startup.periodSeconds = w.probePeriod;
    return r;
  };
  await runMolt(h, home, [
    'apply',
    '-f',
    file('releases.yaml', [release('kv-1', '1.0.0', v1), release('kv-2', '2.0.0', v2)]),
  ]);
  const s: Samples = { vsSoloRole: [], vsMemberTimes: [], vsSerial: [], wall: [], rollout: [], solo: [] };
  for (let i = 0; i < rounds; i++) {
    const app = (name: string, rel: string, roles: { name: string; members: number }[]) => ({
      apiVersion: 'molt.dev/v1alpha1',
      kind: 'App',
      metadata: { name },
      spec: { release: rel, roles, network },
    });
    const both = (rel: string) =>
      app(`br${i}`, rel, [
        { name: 'a', members: 3 },
        { name: 'b', members: 2 },
      ]);
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
    s.wall.push(usage.wallMs);
    s.rollout.push(rolloutMs);
    s.solo.push(soloMs);
    s.vsSoloRole.push(rolloutMs / soloMs);
    s.vsMemberTimes.push(rolloutMs / Math.max(...roleSums));
    s.vsSerial.push(rolloutMs / roleSums.reduce((a, b) => a + b, 0));
    await runMolt(h, home, ['delete', `br${i}`, '--volumes']);
    await runMolt(h, home, ['delete', `bs${i}`, '--volumes']);
  }
  return s;
}
/** Each role's member upgrade durations (member-started → member-upgraded) of the app's last rollout. */
function memberTimes(home: string, app: string): { perRole: Record<string, number[]>; rolloutMs: number } {
  const db = new DatabaseSync(join(home, 'state.db'), { readOnly: true });
  try {
    const rows = db
      .prepare(`SELECT e.role AS role, e.member AS member, e.event AS event, e.at AS at FROM rollout_events e
      WHERE e.rollout_id = (SELECT max(id) FROM rollouts WHERE app = ?) AND e.event IN ('member-started', 'member-upgraded') ORDER BY e.id`)
      .all(app) as { role: string; member: string; event: string; at: string }[];
    const started = new Map<string, number>();
    const out: Record<string, number[]> = {};
    for (const r of rows) {
      if (r.event === 'member-started') started.set(r.member, Date.parse(r.at));
      else (out[r.role] ??= []).push(Date.parse(r.at) - (started.get(r.member) ?? Date.parse(r.at)));
    }
    const r = db
      .prepare('SELECT started_at AS a, finished_at AS b FROM rollouts WHERE app = ? ORDER BY id DESC LIMIT 1')
      .get(app) as { a: string; b: string };
    return { perRole: out, rolloutMs: Date.parse(r.b) - Date.parse(r.a) };
  } finally {
    db.close();
  }
}
