/**
 * molt killed with SIGKILL at every step boundary of an upgrade and of a rollback, then run
 * again: the app always ends fully on the new version or fully on the old one, data intact,
 * nothing left behind. The kill points come from the state machine's own step lists.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FORWARD_STEPS, ROLLBACK_STEPS } from '../../src/core/upgrade-machine.ts';
import { boundaries } from '../../src/core/step-boundaries.ts';
import { KillTally } from './faults.ts';
import { volumeChecksum, type PodmanHarness } from './harness.ts';
import { appDoc, buildApp, molt, spawnMolt, writeManifest, type MoltEnv, startTestbed } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const REPO = 'localhost/e2e-recovery';
let counter = 0;

before(async () => {
  ({ h, m, net, subnet } = await startTestbed());
  await Promise.all([
    buildApp(h, REPO, '1.0.0-1'),
    buildApp(h, REPO, '1.1.0-1'),
    buildApp(h, REPO, '1.2.0-1', { EXIT_AT_START: 'broken' }),
    buildApp(h, REPO, '1.3.0-1', { NEVER_READY: '1' }),
  ]);
});
after(async () => h?.stop());

const manifest = (name: string, version: string) =>
  writeManifest(
    m,
    `${name}-${version}.yaml`,
    appDoc({ name, version, image: `${REPO}:${version}`, network: net, subnet }),
  );

async function installWithData(name: string) {
  const r = await molt(m, ['apply', '-f', manifest(name, '1.0.0-1')]);
  assert.equal(r.code, 0, r.stderr);
  const c = (await h.engine.inspectContainer(name))!;
  await h.engine.exec(c.id, ['sh', '-c', 'dd if=/dev/urandom of=/data/blob bs=1k count=64 2>/dev/null']);
  return { ip: c.requestedIps[net], sum: await volumeChecksum(h, `${name}-data`) };
}

/** The invariant: exactly one container, running the old or the new version, same IP and bytes. */
async function assertWholeVersion(name: string, v1: { ip?: string; sum: string }, allowed: string[]) {
  const containers = await h.engine.listContainers([`dev.molt.app=${name}`]);
  assert.equal(
    containers.length,
    1,
    `exactly one container, got ${containers.map((c) => `${c.name}:${c.status}`).join(', ')}`,
  );
  const c = containers[0]!;
  assert.equal(c.name, name);
  assert.ok(c.running, 'running');
  const version = c.labels['dev.molt.version'] ?? '';
  assert.ok(allowed.includes(version), `version ${version} is one of ${allowed}`);
  assert.equal(c.networks[net], v1.ip, 'same IP');
  assert.equal(await volumeChecksum(h, `${name}-data`), v1.sum, 'volume bytes intact');
  const status = JSON.parse((await molt(m, ['get', 'app', name, '-o', 'json'])).stdout).status;
  assert.equal(status.installedVersion, version, 'status agrees with the engine');
  assert.equal(status.phase, 'Running');
  assert.equal(status.containerId, c.id);
  return version;
}

const PATHS = {
  'single member, upgrade': boundaries(FORWARD_STEPS.upgrade),
  'single member, rollback': boundaries(ROLLBACK_STEPS.upgrade),
};
const tally = new KillTally('recovery', PATHS);
/** Points run side by side: each has its own app, volume and address. */
const CONCURRENCY = 4;
after(() => console.log(tally.report()));

describe('SIGKILL during an upgrade, then molt run again', { concurrency: CONCURRENCY }, () => {
  for (const point of PATHS['single member, upgrade']) {
    test(`killed at ${point}: the re-run ends fully on v2`, async () => {
      tally.tried('single member, upgrade');
      const name = `k${++counter}`;
      const v1 = await installWithData(name);
      const killed = await molt(m, ['apply', '-f', manifest(name, '1.1.0-1')], {
        MOLT_TEST_HOOKS: '1',
        MOLT_TEST_KILL_AT: point,
      });
      assert.ok(killed.code >= 128, `molt was killed (${killed.stderr})`);
      const rerun = await molt(m, ['apply', '-f', manifest(name, '1.1.0-1')]);
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.equal(await assertWholeVersion(name, v1, ['1.0.0-1', '1.1.0-1']), '1.1.0-1');
      tally.passed('single member, upgrade');
    });
  }
});

describe('SIGKILL during a rollback, then molt run again', { concurrency: CONCURRENCY }, () => {
  for (const point of PATHS['single member, rollback']) {
    test(`killed at rollback ${point}: the re-run finishes the rollback to v1`, async () => {
      tally.tried('single member, rollback');
      const name = `r${++counter}`;
      const v1 = await installWithData(name);
      const killed = await molt(m, ['apply', '-f', manifest(name, '1.2.0-1')], {
        MOLT_TEST_HOOKS: '1',
        MOLT_TEST_KILL_AT: point,
      });
      assert.ok(killed.code >= 128, killed.stderr);
      const recover = await molt(m, ['recover', name]);
      assert.match(recover.stdout, /ended RolledBack/, recover.stderr);
      assert.equal(await assertWholeVersion(name, v1, ['1.0.0-1']), '1.0.0-1');
      tally.passed('single member, rollback');
    });
  }
});

test('the matrix covered every generated kill point, and all passed', () => tally.assertComplete());

test('SIGKILL at an arbitrary moment (no hook) and a re-run leave one whole version', async () => {
  const name = 'wild';
  const v1 = await installWithData(name);
  const child = spawnMolt(m, ['apply', '-f', manifest(name, '1.1.0-1')]);
  let seen = '';
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('→ CreateNew')) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.once('exit', () => resolve());
  });
  await new Promise((r) =>
    child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r),
  );
  const rerun = await molt(m, ['apply', '-f', manifest(name, '1.1.0-1')]);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.equal(await assertWholeVersion(name, v1, ['1.1.0-1']), '1.1.0-1');
});

test('a second apply while one runs gets a clear busy error and changes nothing', async () => {
  const name = 'busy';
  await installWithData(name);
  const slow = writeManifest(
    m,
    'busy-slow.yaml',
    appDoc({ name, version: '1.3.0-1', image: `${REPO}:1.3.0-1`, network: net, subnet, failureThreshold: 100000 }),
  );
  const first = spawnMolt(m, ['apply', '-f', slow]);
  let firstErr = '';
  first.stderr.on('data', (d: Buffer) => (firstErr += d.toString()));
  while (!firstErr.includes('→ AwaitReady')) await new Promise((r) => setTimeout(r, 50));
  const second = await molt(m, ['apply', '-f', manifest(name, '1.1.0-1')]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /error\[AppBusy\]: app "busy" is busy: `molt apply busy` \(pid \d+/);
  assert.doesNotMatch(second.stderr, /→ /, 'the second apply did not act');
  first.kill('SIGINT');
  assert.equal(await new Promise((r) => first.once('exit', r)), 1, firstErr);
  assert.equal((await h.engine.inspectContainer(name))?.labels['dev.molt.version'], '1.0.0-1');
});
