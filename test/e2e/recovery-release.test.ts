/**
 * The kill-point matrix of the multi-member path: a 2-role release app (2 + 1 members) whose
 * rollout molt is SIGKILLed at every step boundary — every step of a member's own upgrade
 * (FORWARD_STEPS) and of its rollback (ROLLBACK_STEPS), and every step of the rollout itself
 * (ROLLOUT_STEPS: journaling, member changes, pod/role/cluster hooks, the final status, and the
 * same for the revert of touched members), and every step of a member's own operation while
 * `molt rollback` takes it back (memberRevert) — then run again as a user would (`molt apply` of
 * the same manifest continues a rollout; `molt rollback`, or applying the previous release,
 * finishes going back). After each: every member whole on the same side (all on the new
 * release, or all back), same IPs and bytes, no container but the members, no operation or
 * rollout left open, every hook called once (twice only if molt died while that hook ran).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { boundaries, ROLLOUT_STEPS } from '../../src/core/step-boundaries.ts';
import { FORWARD_STEPS, ROLLBACK_STEPS } from '../../src/core/upgrade-machine.ts';
import { ReleaseStore } from '../../src/store/release-store.ts';
import type { Store } from '../../src/store/store.ts';
import { KillTally, readJournal, volumeSum as sumOf } from './faults.ts';
import { startPodman, type PodmanHarness } from './harness.ts';
import { kvImage, kvRelease } from './kv-app.ts';
import { molt, moltEnv, writeManifest, type MoltEnv } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
/** Two /24 networks: the points' apps keep their addresses reserved (cleanup goes through the engine), ~250 members each. */
const networks: { name: string; subnet: string }[] = [];
/** The network of an app: `rb…` apps (memberRevert, the last path) use the second one. */
const networkOf = (app: string) => networks[app.startsWith('rb') ? 1 : 0]!;
const HOOKS = { MOLT_TEST_HOOKS: '1' };
const MEMBERS = { a: 2, b: 1 };
const CONCURRENCY = 6;
let n = 0;

/** The three paths, each generated from the step lists. */
const PATHS = {
  /** A member's own upgrade steps and the rollout's. */
  forward: boundaries([...FORWARD_STEPS.upgrade, ...ROLLOUT_STEPS.upgrade]),
  memberRollback: boundaries(ROLLBACK_STEPS.upgrade),
  revert: boundaries(ROLLOUT_STEPS.rollback),
  /** A member's own steps while `molt rollback` takes it back (in that process they run first there). */
  memberRevert: boundaries(FORWARD_STEPS.upgrade),
};
const tally = new KillTally('recovery-release', PATHS, 'multi-member');

before(async () => {
  h = await startPodman();
  m = moltEnv(h);
  for (const net of ['net', 'net2']) networks.push({ name: h.name(net), subnet: h.freeSubnet() });
  const [v1, v2, v3] = await Promise.all([
    kvImage(h, '1.0.0-1'),
    kvImage(h, '2.0.0-1'),
    kvImage(h, '3.0.0-1', { FAIL_ROLE: 'a', FAIL_ORDINAL: '1' }),
  ]);
  const docs = [
    kvRelease('kvr-1', '1.0.0-1', v1, true),
    kvRelease('kvr-2', '2.0.0-1', v2, true),
    kvRelease('kvr-3bad', '3.0.0-1', v3, true),
  ];
  const r = await molt(m, [
    'apply',
    '-f',
    writeManifest(m, 'releases.yaml', docs.map((d) => stringify(d)).join('---\n')),
  ]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  console.log(tally.report());
  await h?.stop();
});

const appFile = (name: string, release: string) =>
  writeManifest(m, `${name}-${release}.yaml`, {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name },
    spec: {
      release,
      roles: [
        { name: 'a', members: MEMBERS.a },
        { name: 'b', members: MEMBERS.b },
      ],
      network: networkOf(name),
    },
  });
const memberNames = (app: string) => [
  ...Array.from({ length: MEMBERS.a }, (_, i) => `${app}-a-${i}`),
  ...Array.from({ length: MEMBERS.b }, (_, i) => `${app}-b-${i}`),
];

const journal = <T>(fn: (store: Store) => T): T => readJournal(m, fn);
const volumeSum = (volume: string) => sumOf(h, volume);

/** The release app's status as molt recorded it. */
const status = (app: string) => journal((s) => new ReleaseStore(s).getApp(app)?.status);

/** What must survive: each member's IP and data bytes. */
type Before = Map<string, { ip: string; sum: string }>;

/** Installs the app on kvr-1 and writes 32 KiB into every member's data volume. */
async function installWithData(app: string): Promise<Before> {
  const r = await molt(m, ['apply', '-f', appFile(app, 'kvr-1')]);
  assert.equal(r.code, 0, r.stderr);
  const before: Before = new Map();
  for (const name of memberNames(app)) {
    const c = (await h.engine.inspectContainer(name))!;
    const w = await h.engine.exec(c.id, ['sh', '-c', 'dd if=/dev/urandom of=/data/blob bs=1k count=32 2>/dev/null']);
    assert.equal(w.exitCode, 0, w.stderr);
    before.set(name, { ip: c.networks[networkOf(app).name] ?? '', sum: await volumeSum(`${name}-data`) });
  }
  return before;
}

/**
 * Hooks a dead molt started but never recorded, per member (`--flag` names): the only ones
 * a re-run may call a second time.
 */
function unrecordedHooks(app: string): Map<string, string[]> {
  const events = journal((s) => new ReleaseStore(s).listRollouts(app))
    .filter((r) => r.outcome === 'Interrupted')
    .flatMap((r) => r.events);
  const open = new Map<string, string[]>();
  for (const e of events) {
    const [kind, flag] = e.event.split(' ');
    if (!e.member || !flag || (kind !== 'call' && kind !== 'hook')) continue;
    const list = open.get(e.member) ?? [];
    open.set(
      e.member,
      kind === 'call' ? [...list, `--${flag}`] : list.filter((f, i) => f !== `--${flag}` || i !== list.indexOf(f)),
    );
  }
  return open;
}

/**
 * The invariant: status steady on `release` with every member on `version`; per member exactly
 * its own running container (no parked, new or helper one) at the same IP with the same bytes;
 * no member operation and no rollout left open; each hook called once — twice only when molt
 * died while it ran. Returns each member's hook lines, repeats removed.
 */
async function assertWhole(
  app: string,
  release: string,
  version: string,
  before: Before,
): Promise<Map<string, string[]>> {
  const s = status(app)!;
  assert.deepEqual(
    [s.state, s.release, s.upgradeInfo],
    ['configured', release, undefined],
    'the app is steady on one release',
  );
  const members = s.roles.flatMap((r) => r.members);
  const repeatable = unrecordedHooks(app);
  const hooks = new Map<string, string[]>();
  for (const name of memberNames(app)) {
    assert.equal(members.find((x) => x.name === name)?.version, version, `${name} status version`);
    const all = await h.engine.listContainers([`dev.molt.app=${name}`]);
    assert.deepEqual(
      all.map((c) => `${c.name} ${c.running} ${c.labels['dev.molt.version']}`),
      [`${name} true ${version}`],
      `${name}: exactly its own container, whole on ${version}`,
    );
    assert.equal(all[0]!.networks[networkOf(app).name], before.get(name)?.ip, `${name} keeps its IP`);
    assert.equal(await volumeSum(`${name}-data`), before.get(name)?.sum, `${name} keeps its data bytes`);
    assert.equal(journal((j) => j.inFlightOperation(name))?.id, undefined, `${name}: no operation left in flight`);
    const lines = (await h.engine.exec(all[0]!.id, ['sh', '-c', 'cat /meta/hooks 2>/dev/null; true'])).stdout
      .trim()
      .split('\n')
      .filter(Boolean);
    for (const line of new Set(lines)) {
      const times = lines.filter((l) => l === line).length;
      const allowed = repeatable.get(name)?.includes(line.split(' ')[0]!) ? 2 : 1;
      assert.ok(
        times <= allowed,
        `${name}: ${line} called ${times} times (a repeat is allowed only for a hook molt died in): ${lines.join(' | ')}`,
      );
    }
    hooks.set(name, [...new Set(lines)]);
  }
  const open = journal((j) => new ReleaseStore(j).listRollouts(app)).filter((r) => !r.outcome);
  assert.deepEqual(
    open.map((r) => r.id),
    [],
    'no rollout left open in the journal',
  );
  return hooks;
}

/** One kill point: install, start `release` killed at `point`, then the re-run; returns what must survive. */
async function killed(path: keyof typeof PATHS, app: string, release: string, point: string): Promise<Before> {
  tally.tried(path);
  const before = await installWithData(app);
  const k = await molt(m, ['apply', '-f', appFile(app, release)], { ...HOOKS, MOLT_TEST_KILL_AT: point });
  assert.ok(k.code >= 128, `molt was killed at ${point} (exit ${k.code}): ${k.stderr}`);
  return before;
}

/** `molt rollback`; when the killed molt had already finished going back, it says there is nothing to undo. */
async function rollBack(app: string) {
  const steady = status(app)?.state === 'configured';
  const r = await molt(m, ['rollback', app]);
  if (steady) assert.match(r.stderr, /has no previous release to go back to/, r.stderr);
  else assert.equal(r.code, 0, r.stderr);
}

/** Removes the point's containers and volumes through the engine (cheaper than a molt process): fewer idle containers for the next points. */
async function cleanup(app: string) {
  for (const name of memberNames(app)) {
    for (const c of await h.engine.listContainers([`dev.molt.app=${name}`])) await h.engine.removeContainer(c.id);
    for (const v of ['data', 'meta']) await h.engine.removeVolume(`${name}-${v}`);
  }
}

describe('a rollout killed at every boundary, then `molt apply` again', { concurrency: CONCURRENCY }, () => {
  for (const point of PATHS.forward) {
    test(`killed at ${point}: every member ends on kvr-2, every hook called once`, async () => {
      const app = `rf${++n}`;
      const before = await killed('forward', app, 'kvr-2', point);
      const rerun = await molt(m, ['apply', '-f', appFile(app, 'kvr-2')]);
      assert.equal(rerun.code, 0, rerun.stderr);
      const hooks = await assertWhole(app, 'kvr-2', '2.0.0-1', before);
      for (const [name, lines] of hooks) {
        assert.deepEqual(
          lines,
          ['--pod_upgraded', '--role_upgraded', '--cluster_upgraded'].map((f) => `${f} 2.0.0-1 ${name}`),
          `${name}: pod, role, cluster hook, in order`,
        );
        const upgrades = journal((j) => j.listOperations(name))
          .filter((o) => o.toVersion === '2.0.0-1')
          .map((o) => o.state.phase);
        assert.deepEqual(upgrades, ['Succeeded'], `${name} was upgraded exactly once`);
      }
      tally.passed('forward');
      await cleanup(app);
    });
  }
});

describe('a member rolling itself back (its probe fails) killed at every rollback step, then `molt rollback`', {
  concurrency: CONCURRENCY,
}, () => {
  for (const point of PATHS.memberRollback) {
    test(`killed at member rollback ${point}: every member ends back on kvr-1`, async () => {
      const app = `rm${++n}`;
      const before = await killed('memberRollback', app, 'kvr-3bad', point);
      await rollBack(app);
      await assertWhole(app, 'kvr-1', '1.0.0-1', before);
      tally.passed('memberRollback');
      await cleanup(app);
    });
  }
});

describe('the revert of touched members killed at every boundary, then the previous release applied again', {
  concurrency: CONCURRENCY,
}, () => {
  for (const point of PATHS.revert) {
    test(`killed at ${point}: every member ends back on kvr-1, the reverted one with its hooks once`, async () => {
      const app = `rr${++n}`;
      const before = await killed('revert', app, 'kvr-3bad', point);
      const again = await molt(m, ['apply', '-f', appFile(app, 'kvr-1')]);
      assert.equal(
        again.code,
        0,
        `applying the previous release continues the rollback the dead molt left: ${again.stderr}`,
      );
      const hooks = await assertWhole(app, 'kvr-1', '1.0.0-1', before);
      const b0 = hooks.get(`${app}-b-0`) ?? [];
      assert.deepEqual(
        b0.filter((l) => l.includes('reverted')),
        ['--pod_reverted', '--role_reverted', '--cluster_reverted'].map((f) => `${f} 1.0.0-1 ${app}-b-0`),
        'the touched member was reverted with its hooks, each once',
      );
      tally.passed('revert');
      await cleanup(app);
    });
  }
});

describe('`molt rollback` of a finished upgrade killed at every step of a member going back, then `molt rollback` again', {
  concurrency: CONCURRENCY,
}, () => {
  for (const point of PATHS.memberRevert) {
    test(`killed at member revert ${point}: every member ends back on kvr-1, with its revert hooks`, async () => {
      tally.tried('memberRevert');
      const app = `rb${++n}`;
      const before = await installWithData(app);
      const up = await molt(m, ['apply', '-f', appFile(app, 'kvr-2')]);
      assert.equal(up.code, 0, up.stderr);
      const k = await molt(m, ['rollback', app], { ...HOOKS, MOLT_TEST_KILL_AT: point });
      assert.ok(k.code >= 128, `molt rollback was killed at ${point} (exit ${k.code}): ${k.stderr}`);
      await rollBack(app);
      const hooks = await assertWhole(app, 'kvr-1', '1.0.0-1', before);
      for (const [name, lines] of hooks) {
        assert.deepEqual(
          lines.filter((l) => l.includes('reverted')),
          ['--pod_reverted', '--role_reverted', '--cluster_reverted'].map((f) => `${f} 1.0.0-1 ${name}`),
          `${name}: reverted with pod, role and cluster hook, in order`,
        );
      }
      tally.passed('memberRevert');
      await cleanup(app);
    });
  }
});

describe('`molt recover` continues what a dead molt left, as README says', () => {
  test('a rollout killed mid-member: recover finishes it onto kvr-2; a second recover finds nothing in flight', async () => {
    const app = `rc${++n}`;
    const before = await installWithData(app);
    const k = await molt(m, ['apply', '-f', appFile(app, 'kvr-2')], {
      ...HOOKS,
      MOLT_TEST_KILL_AT: 'PodUpgradedHook:before',
    });
    assert.ok(k.code >= 128, `killed (exit ${k.code}): ${k.stderr}`);
    const r = await molt(m, ['recover', app]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /the interrupted rollout ended Succeeded/);
    await assertWhole(app, 'kvr-2', '2.0.0-1', before);
    const again = await molt(m, ['recover', app]);
    assert.deepEqual([again.code, again.stdout.trim()], [0, `app/${app}: nothing was in flight`]);
    await cleanup(app);
  });

  test('a revert killed mid-member: recover finishes going back to kvr-1', async () => {
    const app = `rc${++n}`;
    const before = await installWithData(app);
    const k = await molt(m, ['apply', '-f', appFile(app, 'kvr-3bad')], {
      ...HOOKS,
      MOLT_TEST_KILL_AT: 'RevertMember:after',
    });
    assert.ok(k.code >= 128, `killed (exit ${k.code}): ${k.stderr}`);
    const plan = await molt(m, ['plan', '-f', appFile(app, 'kvr-1')]);
    assert.deepEqual(
      [plan.code, plan.stdout.trim()],
      [2, `app/${app}: rollback kvr-1`],
      `plan shows the rollback a re-run would continue, not "already running": ${plan.stderr}`,
    );
    const r = await molt(m, ['recover', app]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /the interrupted rollback ended RolledBack/);
    await assertWhole(app, 'kvr-1', '1.0.0-1', before);
    await cleanup(app);
  });
});

test('the matrix covered every generated kill point, and all passed', () => tally.assertComplete());
