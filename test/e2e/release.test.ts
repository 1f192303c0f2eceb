/**
 * Multi-member apps on real Podman (seed 003): a Release with two roles, upgraded role-parallel
 * and member by member from the last ordinal, with hooks, automatic rollback of exactly the
 * touched members, the validator's refusals, and a partitioned (canary) rollout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startPodman, volumeChecksum, type PodmanHarness } from './harness.ts';
import { kvImage, kvRelease } from './kv-app.ts';
import { molt, moltEnv, spawnMolt, writeManifest, type MoltEnv } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
let network: { name: string; subnet: string };

function app(name: string, rel: string, members: { a: number; b: number }, strategy: Record<string, unknown> = {}) {
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name },
    spec: {
      release: rel,
      roles: [
        { name: 'a', members: members.a },
        { name: 'b', members: members.b },
      ],
      network,
      upgradeStrategy: strategy,
    },
  };
}

const apply = async (file: string, doc: unknown) => molt(m, ['apply', '-f', writeManifest(m, file, doc)]);
const applyAll = async (file: string, docs: unknown[]) =>
  molt(m, ['apply', '-f', writeManifest(m, file, docs.map((d) => stringify(d)).join('---\n'))]);
const status = async (name: string) => JSON.parse((await molt(m, ['get', 'app', name, '-o', 'json'])).stdout).status;
const members = (s: {
  roles: {
    name: string;
    members: { name: string; ordinal: number; ip: string; version: string; upgradeStatus: string }[];
  }[];
}) => s.roles.flatMap((r) => r.members.map((x) => ({ role: r.name, ...x })));

/** Writes 128 KiB of random bytes into every member's data volume. */
async function writeData(name: string) {
  for (const x of members(await status(name))) {
    const id = (await h.engine.inspectContainer(x.name))!.id;
    assert.equal(
      (await h.engine.exec(id, ['sh', '-c', 'dd if=/dev/urandom of=/data/blob bs=1k count=128 2>/dev/null'])).exitCode,
      0,
    );
  }
}

async function snapshotOf(name: string) {
  const s = await status(name);
  return Promise.all(
    members(s).map(async (x) => ({ name: x.name, ip: x.ip, sum: await volumeChecksum(h, `${x.name}-data`) })),
  );
}

before(async () => {
  h = await startPodman();
  m = moltEnv(h);
  network = { name: h.name('net'), subnet: h.freeSubnet() };
  const [v1, v2, v3bad] = await Promise.all([
    kvImage(h, '1.0.0-1'),
    kvImage(h, '2.0.0-1'),
    kvImage(h, '3.0.0-1', { FAIL_ROLE: 'a', FAIL_ORDINAL: '1' }),
  ]);
  const r = await applyAll('releases.yaml', [
    kvRelease('kv-1', '1.0.0-1', v1, true),
    kvRelease('kv-2', '2.0.0-1', v2, true),
    kvRelease('kv-3bad', '3.0.0-1', v3bad, true),
    kvRelease('kv-sealed', '1.0.0-1', v1, false),
    kvRelease('kv-old', '0.9.0-1', v1, true),
  ]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => h?.stop());

describe('a 2-role app (3 + 2 members)', () => {
  test('installs every member with its own volume and IP', async () => {
    const r = await apply('kv-app-1.yaml', app('kv', 'kv-1', { a: 3, b: 2 }));
    assert.equal(r.code, 0, r.stderr);
    const s = await status('kv');
    assert.equal(s.state, 'configured');
    assert.deepEqual(
      members(s).map((x) => `${x.name}:${x.version}`),
      ['kv-a-0:1.0.0-1', 'kv-a-1:1.0.0-1', 'kv-a-2:1.0.0-1', 'kv-b-0:1.0.0-1', 'kv-b-1:1.0.0-1'],
    );
    assert.equal(new Set(members(s).map((x) => x.ip)).size, 5);
    const list = await molt(m, ['get', 'apps']);
    assert.match(list.stdout, /\nkv\s+1\.0\.0-1\s+Running\s+<5 members>/);
    assert.doesNotMatch(list.stdout, /kv-a-0/, 'members are shown through their app');
  });

  test('upgrades role-parallel, each role from its last ordinal to 0, keeping IPs and volume bytes; hooks in order', async () => {
    await writeData('kv');
    const before = await snapshotOf('kv');
    const r = await apply('kv-app-2.yaml', app('kv', 'kv-2', { a: 3, b: 2 }));
    assert.equal(r.code, 0, r.stderr);
    const s = await status('kv');
    assert.equal(s.state, 'configured');
    assert.equal(s.upgradeInfo, undefined);
    assert.ok(members(s).every((x) => x.version === '2.0.0-1' && x.upgradeStatus === 'upgraded'));
    const after = await snapshotOf('kv');
    for (const b of before) {
      const a = after.find((x) => x.name === b.name)!;
      assert.equal(a.ip, b.ip, `${b.name} keeps its IP`);
      assert.equal(a.sum, b.sum, `${b.name} keeps its volume bytes`);
    }
    const history = JSON.parse((await molt(m, ['history', 'kv', '-o', 'json'])).stdout);
    const events = history.at(-1).events as { at: string; event: string; member?: string; role?: string }[];
    const started = (role: string) => events.filter((e) => e.event === 'member-started' && e.role === role);
    assert.deepEqual(
      started('a').map((e) => e.member),
      ['kv-a-2', 'kv-a-1', 'kv-a-0'],
    );
    assert.deepEqual(
      started('b').map((e) => e.member),
      ['kv-b-1', 'kv-b-0'],
    );
    const finished = (role: string) => events.filter((e) => e.event === 'member-upgraded' && e.role === role);
    const span = (role: string) => [Date.parse(started(role)[0]!.at), Date.parse(finished(role).at(-1)!.at)] as const;
    const [a0, a1] = span('a');
    const [b0, b1] = span('b');
    assert.ok(a0 < b1 && b0 < a1, 'the two roles overlap in time');
    const hooks = (await h.engine.exec((await h.engine.inspectContainer('kv-a-1'))!.id, ['cat', '/meta/hooks'])).stdout
      .trim()
      .split('\n');
    assert.deepEqual(hooks, [
      '--pod_upgraded 2.0.0-1 kv-a-1',
      '--role_upgraded 2.0.0-1 kv-a-1',
      '--cluster_upgraded 2.0.0-1 kv-a-1',
    ]);
    const hookEvents = events.filter((e) => e.event.startsWith('hook'));
    const order = hookEvents.map((e) => e.event);
    assert.ok(
      order.lastIndexOf('hook pod_upgraded') < order.indexOf('hook cluster_upgraded'),
      'cluster hooks come last',
    );
  });
});

describe('failure and rollback', () => {
  test('member 1 of role a fails its probe → exactly the touched members of both roles are rolled back, data intact', async () => {
    const r0 = await apply('fail-app-1.yaml', app('fl', 'kv-1', { a: 3, b: 2 }));
    assert.equal(r0.code, 0, r0.stderr);
    await writeData('fl');
    const before = await snapshotOf('fl');
    const r = await apply('fail-app-2.yaml', app('fl', 'kv-3bad', { a: 3, b: 2 }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /app\/fl rolled back/);
    assert.match(r.stderr, /error\[ProbeFailed\]: fl-a-1: startup probe failed/);
    const s = await status('fl');
    assert.equal(s.state, 'configured');
    assert.equal(s.release, 'kv-1');
    assert.equal(s.lastUpgrade.outcome, 'RolledBack');
    assert.match(s.lastUpgrade.error.message, /fl-a-1/);
    assert.ok(
      members(s).every((x) => x.version === '1.0.0-1'),
      'every member back on 1.0.0-1',
    );
    const history = JSON.parse((await molt(m, ['history', 'fl', '-o', 'json'])).stdout);
    const reverted = history
      .at(-1)
      .events.filter((e: { event: string }) => e.event === 'member-reverted')
      .map((e: { member: string }) => e.member)
      .sort();
    const upgraded = history
      .at(-1)
      .events.filter((e: { event: string }) => e.event === 'member-upgraded')
      .map((e: { member: string }) => e.member)
      .sort();
    assert.deepEqual(reverted, upgraded, 'exactly the touched members were reverted');
    assert.ok(upgraded.includes('fl-a-2') && !upgraded.includes('fl-a-0'), 'a-2 was touched, a-0 never');
    const after = await snapshotOf('fl');
    for (const b of before) {
      assert.equal(after.find((x) => x.name === b.name)?.ip, b.ip, `${b.name} keeps its IP`);
      assert.equal(after.find((x) => x.name === b.name)?.sum, b.sum, `${b.name} keeps its volume bytes`);
    }
    const hooks = (await h.engine.exec((await h.engine.inspectContainer('fl-a-2'))!.id, ['cat', '/meta/hooks'])).stdout;
    assert.match(hooks, /--pod_upgraded 3\.0\.0-1 fl-a-2\n(.*\n)*--pod_reverted 1\.0\.0-1 fl-a-2/);
  });

  test('refusals: release and member count in one apply; upgrade from upgradable: false; a downgrade', async () => {
    const both = await apply('both.yaml', app('kv', 'kv-3bad', { a: 4, b: 2 }));
    assert.equal(both.code, 1);
    assert.match(both.stderr, /spec\.release changes together with other fields/);
    assert.equal((await apply('sealed-1.yaml', app('sealed', 'kv-sealed', { a: 1, b: 1 }))).code, 0);
    const sealed = await apply('sealed-2.yaml', app('sealed', 'kv-2', { a: 1, b: 1 }));
    assert.equal(sealed.code, 1);
    assert.match(sealed.stderr, /release kv-sealed is sealed \(upgradable: false\)/);
    const down = await apply('down.yaml', app('kv', 'kv-old', { a: 3, b: 2 }));
    assert.equal(down.code, 1);
    assert.match(down.stderr, /error\[DowngradeRefused\]: release kv-old \(0\.9\.0-1\) is not newer than kv-2/);
    assert.equal((await status('kv')).release, 'kv-2', 'nothing touched');
  });

  test('a rollback while a rollback runs is refused', async () => {
    assert.equal((await apply('rr-1.yaml', app('rr', 'kv-1', { a: 2, b: 1 }))).code, 0);
    // The first molt is held inside its rollback (a test hook), so the second always meets it there.
    const resume = join(m.dir, 'rr-resume');
    const first = spawnMolt(m, ['apply', '-f', writeManifest(m, 'rr-2.yaml', app('rr', 'kv-3bad', { a: 2, b: 1 }))], {
      MOLT_TEST_HOOKS: '1',
      MOLT_TEST_PAUSE_AT: 'RevertMember:before',
      MOLT_TEST_RESUME_FILE: resume,
    });
    let code: number | null | undefined;
    const exited = new Promise<number | null>((r) => first.once('exit', (c) => r((code = c))));
    while (!existsSync(`${resume}.paused`)) {
      assert.equal(code, undefined, 'the first apply reached the revert of its touched member');
      await new Promise((r) => setTimeout(r, 50));
    }
    const second = await molt(m, ['rollback', 'rr']);
    writeFileSync(resume, '');
    assert.equal(second.code, 1);
    assert.match(second.stderr, /a rollback of rr is already running/);
    assert.equal(await exited, 1, 'the first apply ends rolled back');
    assert.equal((await status('rr')).release, 'kv-1');
  });
});

describe('partition (canary)', () => {
  test('partition 1 upgrades only ordinals ≥ 1; a later apply without partition finishes the rest', async () => {
    assert.equal((await apply('pt-1.yaml', app('pt', 'kv-1', { a: 3, b: 2 }))).code, 0);
    const r = await apply('pt-2.yaml', app('pt', 'kv-2', { a: 3, b: 2 }, { partition: 1 }));
    assert.equal(r.code, 0, r.stderr);
    let s = await status('pt');
    assert.deepEqual(
      members(s).map((x) => `${x.name}:${x.version}`),
      ['pt-a-0:1.0.0-1', 'pt-a-1:2.0.0-1', 'pt-a-2:2.0.0-1', 'pt-b-0:1.0.0-1', 'pt-b-1:2.0.0-1'],
    );
    assert.equal(s.state, 'updating');
    const rest = await apply('pt-3.yaml', app('pt', 'kv-2', { a: 3, b: 2 }));
    assert.equal(rest.code, 0, rest.stderr);
    s = await status('pt');
    assert.ok(members(s).every((x) => x.version === '2.0.0-1'));
    assert.equal(s.state, 'configured');
  });
});
