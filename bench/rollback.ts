/**
 * Rollback downtime: a new version that starts but never passes its startup probe (and
 * ignores SIGTERM, like a hung server) is rolled back by molt; the downtime is the gap from
 * the old version's last answer to its first answer again, seen by a client polling over HTTP.
 * Against the downtime of a successful upgrade of the same app, alternating in the same run,
 * plus the probe budget the manifest sets (periodSeconds × startupFailureThreshold): the time
 * molt must give the new version before it may call it failed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildNotesImage, notesManifest } from '../src/examples/notes.ts';
import { busyboxContext } from '../src/examples/images.ts';
import type { PodmanHarness } from '../test/e2e/harness.ts';
import { pollGaps, waitUp } from './downtime.ts';
import { median, runMolt } from './lib.ts';

const PERIOD_SECONDS = 0.1;
const FAILURE_THRESHOLD = 10;
const STOP_TIMEOUT_SECONDS = 10;

/** Measures `rounds` successful upgrades and `rounds` rolled-back ones, alternating. */
export async function benchRollback(h: PodmanHarness, rounds: number): Promise<Record<string, number>> {
  const repo = 'localhost/bench-rollback';
  const good = Array.from({ length: rounds + 1 }, (_, i) => `1.${i}.0-1`);
  const hung = Array.from({ length: rounds }, (_, i) => `1.${i}.5-1`);
  for (const v of good) await buildNotesImage(h.engine, repo, v);
  for (const v of hung)
    await h.engine.buildImage(
      `${repo}:${v}`,
      busyboxContext({ cmd: ['sh', '-c', "trap '' TERM; while true; do sleep 1; done"], env: { NOTES_VERSION: v } }),
    );
  const network = { name: h.name('brb'), subnet: h.freeSubnet() };
  const home = join(h.dir, 'bench-rollback-home');
  const manifest = (v: string) => {
    const file = join(h.dir, `bench-rb-${v}.yaml`);
    const text = notesManifest({ name: 'bench-rb', version: v, image: `${repo}:${v}`, network })
      .replace('periodSeconds: 0.5', `periodSeconds: ${PERIOD_SECONDS}`)
      .replace('failureThreshold: 20', `failureThreshold: ${FAILURE_THRESHOLD}`)
      .replace(
        'stopTimeoutSeconds: 5',
        `stopTimeoutSeconds: ${STOP_TIMEOUT_SECONDS}\n  upgrade:\n    startupFailureThreshold: ${FAILURE_THRESHOLD}\n    snapshotVolumes: false`,
      );
    writeFileSync(file, text);
    return file;
  };
  await runMolt(h, home, ['apply', '-f', manifest(good[0]!)]);
  const ip = (await h.engine.inspectContainer('bench-rb'))!.requestedIps[network.name]!;
  await waitUp(ip);
  const measure = async (version: string, expectFailure: boolean): Promise<number> => {
    const poll = pollGaps(ip);
    await new Promise((r) => setTimeout(r, 200));
    const r = await runMolt(h, home, ['apply', '-f', manifest(version)], { allowFailure: expectFailure });
    if (expectFailure && r.code === 0) throw new Error(`the upgrade to the hung ${version} succeeded`);
    await waitUp(ip);
    await new Promise((res) => setTimeout(res, 100));
    return poll.stop();
  };
  const upgrades: number[] = [];
  const rollbacks: number[] = [];
  for (let i = 0; i < rounds; i++) {
    rollbacks.push(await measure(hung[i]!, true));
    upgrades.push(await measure(good[i + 1]!, false));
  }
  await runMolt(h, home, ['delete', 'bench-rb', '--volumes']);
  const budgetMs = PERIOD_SECONDS * FAILURE_THRESHOLD * 1000;
  const up = median(upgrades);
  const back = median(rollbacks);
  return {
    'upgrade downtime ms (median)': up,
    'probe budget ms (periodSeconds × startupFailureThreshold)': budgetMs,
    'rollback downtime ms (median)': back,
    [`ratio rollback / (upgrade + budget) (target ≤ 1.5; stopTimeoutSeconds ${STOP_TIMEOUT_SECONDS})`]:
      back / (up + budgetMs),
  };
}
