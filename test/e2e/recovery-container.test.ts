/**
 * `molt upgrade CONTAINER` killed with SIGKILL at every step boundary of the upgrade and of
 * its rollback, on containers started with plain `podman run`; then `molt recover NAME`: the
 * container ends fully upgraded or fully back as the very same old container — name, IP, MAC,
 * data and customised command intact, nothing left behind. Points from the step lists.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FORWARD_STEPS, ROLLBACK_STEPS } from '../../src/core/upgrade-machine.ts';
import { boundaries } from '../../src/core/step-boundaries.ts';
import { KillTally } from './faults.ts';
import { volumeChecksum, type PodmanHarness } from './harness.ts';
import { buildApp, molt, startTestbed, type MoltEnv } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const REPO = 'localhost/e2e-foreign';
let counter = 0;

before(async () => {
  ({ h, m, net, subnet } = await startTestbed());
  await h.engine.createNetwork(net, subnet);
  await Promise.all([
    buildApp(h, REPO, '1.0.0'),
    buildApp(h, REPO, '2.0.0'),
    buildApp(h, REPO, '3.0.0', { EXIT_AT_START: 'broken' }),
  ]);
});
after(async () => h?.stop());

/** A container molt did not create, with data; what must survive. */
async function foreign(name: string) {
  const ip = subnet.replace(/0\/24$/, String(10 + counter));
  const r = await h.podman([
    'run',
    '-d',
    '--name',
    name,
    '-v',
    `${name}-data:/data`,
    '--network',
    net,
    '--ip',
    ip,
    '--memory',
    '64m',
    '-e',
    'FOO=bar',
    `${REPO}:1.0.0`,
    '/app/run',
    'custom',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    (await h.engine.exec(name, ['sh', '-c', 'dd if=/dev/urandom of=/data/blob bs=1k count=64 2>/dev/null'])).exitCode,
    0,
  );
  const c = (await h.engine.inspectDefinition(name))!;
  return { id: c.id, ip, mac: c.networks[net]?.mac, sum: await volumeChecksum(h, `${name}-data`) };
}

/** The invariant: one container named `name`, running `image`, same IP, MAC, bytes and command. */
async function assertWhole(
  name: string,
  old: Awaited<ReturnType<typeof foreign>>,
  image: string,
  sameContainer: boolean,
) {
  const all = (await h.podman(['ps', '-a', '--format', '{{.Names}}'])).stdout
    .split('\n')
    .filter((n) => n.startsWith(name));
  assert.deepEqual(all, [name], 'exactly the container, nothing parked or left behind');
  const c = (await h.engine.inspectDefinition(name))!;
  assert.ok(c.running, 'running');
  assert.equal(c.image, image);
  if (sameContainer) assert.equal(c.id, old.id, 'the very same old container');
  assert.equal(c.networks[net]?.ipv4, old.ip);
  assert.equal(c.networks[net]?.mac, old.mac);
  assert.equal(await volumeChecksum(h, `${name}-data`), old.sum);
  assert.equal((await h.engine.exec(name, ['cat', '/tmp/argv'])).stdout.trim(), 'custom');
}

const PATHS = {
  'container upgrade': boundaries(FORWARD_STEPS.upgrade),
  'container upgrade, rollback': boundaries(ROLLBACK_STEPS.upgrade),
};
const tally = new KillTally('recovery-container', PATHS);
after(() => console.log(tally.report()));

describe('SIGKILL during molt upgrade CONTAINER, then molt recover', { concurrency: 3 }, () => {
  for (const point of PATHS['container upgrade']) {
    test(`killed at ${point}: recover ends fully on the new image`, async () => {
      tally.tried('container upgrade');
      const name = `f${++counter}`;
      const old = await foreign(name);
      const killed = await molt(m, ['upgrade', name, '--image', `${REPO}:2.0.0`], {
        MOLT_TEST_HOOKS: '1',
        MOLT_TEST_KILL_AT: point,
      });
      assert.ok(killed.code >= 128, `molt was killed (${killed.stderr})`);
      const recovered = await molt(m, ['recover', name]);
      assert.equal(recovered.code, 0, recovered.stderr);
      // A kill before the first step's journal leaves nothing in flight: the old container runs untouched.
      const upgraded = (await h.engine.inspectDefinition(name))?.image === `${REPO}:2.0.0`;
      await assertWhole(name, old, upgraded ? `${REPO}:2.0.0` : `${REPO}:1.0.0`, !upgraded);
      assert.ok(upgraded || point === 'EnsureImage:before', `upgraded after a kill at ${point}`);
      tally.passed('container upgrade');
    });
  }
  for (const point of PATHS['container upgrade, rollback']) {
    test(`killed at rollback ${point} (broken image): recover puts back the very same container`, async () => {
      tally.tried('container upgrade, rollback');
      const name = `r${++counter}`;
      const old = await foreign(name);
      const killed = await molt(m, ['upgrade', name, '--image', `${REPO}:3.0.0`, '--min-ready', '5'], {
        MOLT_TEST_HOOKS: '1',
        MOLT_TEST_KILL_AT: point,
      });
      assert.ok(killed.code >= 128, `molt was killed (${killed.stderr})`);
      const recovered = await molt(m, ['recover', name]);
      assert.equal(recovered.code, 1, 'the operation ended RolledBack');
      assert.match(recovered.stdout, /ended RolledBack/);
      await assertWhole(name, old, `${REPO}:1.0.0`, true);
      tally.passed('container upgrade, rollback');
    });
  }
});
