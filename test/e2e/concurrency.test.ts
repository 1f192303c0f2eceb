/**
 * Several molt processes at once, through the real CLI. On one app, upgrades are serialised:
 * of six parallel applies exactly one acts and the others are refused with error[AppBusy]
 * naming it. On different apps they do not wait for each other: six installs and upgrades
 * all held in flight together, then all finish. Races are made deterministic with the
 * MOLT_TEST_PAUSE_AT hook: the processes are held at a step boundary, not hoped to overlap.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { volumeChecksum, type PodmanHarness } from './harness.ts';
import { appDoc, buildApp, molt, writeManifest, type MoltEnv, startTestbed } from './molt-cli.ts';
import {
  lastOperation,
  pausePoint,
  startMolt,
  type RunningMolt,
  type Survivor,
  installWithData as installV1WithData,
} from './faults.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const REPO = 'localhost/e2e-concurrency';
const N = 6;

before(async () => {
  ({ h, m, net, subnet } = await startTestbed());
  await Promise.all([buildApp(h, REPO, '1.0.0-1'), buildApp(h, REPO, '1.1.0-1')]);
});
after(async () => h?.stop());

const manifest = (name: string, version: string, ipv4?: string) =>
  writeManifest(
    m,
    `${name}-${version}.yaml`,
    appDoc({ name, version, image: `${REPO}:${version}`, network: net, subnet, ...(ipv4 ? { ipv4 } : {}) }),
  );

/** Installs v1 with data written to its volume; what must survive. */
const installWithData = (name: string): Promise<Survivor> => installV1WithData(m, manifest(name, '1.0.0-1'), name, net);

/** Asserts the app runs `version` at `ip` with the bytes `sum`, and molt agrees. */
async function assertRunning(name: string, version: string, ip: string | undefined, sum?: string): Promise<void> {
  const c = await h.engine.inspectContainer(name);
  assert.ok(c?.running, `${name} runs`);
  assert.equal(c.labels['dev.molt.version'], version, `${name} runs ${version}`);
  if (ip !== undefined) assert.equal(c.networks[net], ip, `${name} keeps its IP`);
  if (sum !== undefined)
    assert.equal(await volumeChecksum(h, `${name}-data`), sum, `${name}'s volume bytes are intact`);
  const others = (await h.engine.listContainers([`dev.molt.app=${name}`])).filter((x) => x.id !== c.id);
  assert.deepEqual(
    others.map((x) => x.name),
    [],
    `no other container of ${name} left`,
  );
  const status = JSON.parse((await molt(m, ['get', 'app', name, '-o', 'json'])).stdout).status;
  assert.equal(status.installedVersion, version);
  assert.equal(status.containerId, c.id);
}

describe(`${N} parallel applies of one upgrade on the same app`, () => {
  test('exactly one upgrades; the others get error[AppBusy] naming it and touch nothing', async () => {
    const v1 = await installWithData('shared');
    const file = manifest('shared', '1.1.0-1');
    const pause = pausePoint(m, 'AwaitReady:before');
    const runs: RunningMolt[] = Array.from({ length: N }, () => startMolt(m, ['apply', '-f', file], pause.env));
    const holder = await pause.reached(runs.map((r) => r.child));
    const winner = runs.find((r) => r.child.pid === holder);
    assert.ok(winner, `the paused molt (pid ${holder}) is one of the ${N}`);
    const losers = runs.filter((r) => r !== winner);
    const codes = await Promise.all(losers.map((r) => r.exit));
    for (const [i, loser] of losers.entries()) {
      assert.equal(codes[i], 1, loser.stderr());
      assert.match(
        loser.stderr(),
        new RegExp(`^error\\[AppBusy\\]: app "shared" is busy: \`molt apply shared\` \\(pid ${holder} on `, 'm'),
        loser.stderr(),
      );
      assert.doesNotMatch(loser.stderr(), /^\s*[→↩] /m, 'the refused apply ran no step');
      assert.equal(loser.stdout(), '');
    }
    pause.resume();
    assert.equal(await winner.exit, 0, winner.stderr());
    assert.match(winner.stdout(), /app\/shared upgraded: 1\.0\.0-1 → 1\.1\.0-1/);
    await assertRunning('shared', '1.1.0-1', v1.ip, v1.sum);
    const c = await h.engine.inspectContainer('shared');
    assert.equal((await h.engine.exec(c!.id, ['cat', '/data/note'])).stdout, 'precious\n');
    const ops = JSON.parse((await molt(m, ['history', 'shared', '-o', 'json'])).stdout) as Array<{
      kind: string;
      outcome: string;
    }>;
    assert.deepEqual(
      ops.map((o) => `${o.kind} ${o.outcome}`),
      ['install Succeeded', 'upgrade Succeeded'],
      'one install, one upgrade: the refused applies recorded nothing',
    );
  });
});

describe(`${N} parallel applies on ${N} different apps`, () => {
  test('installs and upgrades held in flight together all succeed', async () => {
    const upgrades = ['par-up-1', 'par-up-2', 'par-up-3'];
    const installs = ['par-new-1', 'par-new-2', 'par-new-3'];
    const before = await Promise.all(upgrades.map((name) => installWithData(name)));
    // Upgrades are held with their new container started; installs right after each chose its IP and before any
    // container exists, so three choices of "the first free address" are made at the same time.
    const jobs = [
      ...upgrades.map((name) => ({ name, file: manifest(name, '1.1.0-1'), pause: pausePoint(m, 'AwaitReady:before') })),
      ...installs.map((name) => ({ name, file: manifest(name, '1.0.0-1'), pause: pausePoint(m, 'CreateNew:before') })),
    ];
    const runs = jobs.map((j) => startMolt(m, ['apply', '-f', j.file], j.pause.env));
    const pids = await Promise.all(jobs.map((j, i) => j.pause.reached(runs[i]!.child)));
    assert.deepEqual(
      pids,
      runs.map((r) => r.child.pid),
      `all ${N} are in flight at the same time`,
    );
    jobs.forEach((j) => j.pause.resume());
    const codes = await Promise.all(runs.map((r) => r.exit));
    codes.forEach((code, i) => assert.equal(code, 0, `${jobs[i]!.name}: ${runs[i]!.stderr()}`));
    for (const [i, name] of upgrades.entries()) await assertRunning(name, '1.1.0-1', before[i]!.ip, before[i]!.sum);
    for (const name of installs) {
      await assertRunning(name, '1.0.0-1', undefined);
      assert.equal((await lastOperation(m, name)).outcome, 'Succeeded');
    }
    const ips = await Promise.all(
      [...upgrades, ...installs].map(async (name) => (await h.engine.inspectContainer(name))?.networks[net]),
    );
    assert.equal(new Set(ips).size, N, `every app has its own IP: ${ips.join(', ')}`);
  });
});
