/**
 * The engine misbehaving in the middle of an upgrade, at an exact step boundary (molt held
 * there by the MOLT_TEST_PAUSE_AT hook while the test breaks something): the Podman service
 * crashing and coming back, the new image vanishing, the new container running out of
 * memory or being killed. Each failure ends with the old version back, whole — the same
 * container at the same IP with the same bytes — and a clear cause in stderr and in `molt
 * history`; a service that is back before molt needs it costs nothing (the upgrade finishes).
 * And a data volume filling up while the post-upgrade script writes to it: rolled back, the
 * snapshot restored onto the full volume, the script's "no space" in the cause.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildTestImage, run, volumeChecksum, type PodmanHarness } from './harness.ts';
import { appDoc, buildApp, molt, writeManifest, type MoltEnv, startTestbed } from './molt-cli.ts';
import {
  assertBackAsBefore,
  crashService,
  lastOperation,
  pausePoint,
  startMolt,
  startService,
  stopService,
  waitFor,
  type Survivor,
  installWithData as installV1WithData,
} from './faults.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const REPO = 'localhost/e2e-faults';

/** Ready at once; runs until SIGTERM. */
const IDLE_SCRIPT = `#!/bin/sh
trap 'exit 0' TERM
touch /tmp/ready
while true; do sleep 1 & wait $!; done
`;

/** A post-upgrade "migration" that writes into the data volume until it is full. */
const FILL_SCRIPT = `#!/bin/sh
echo "migrating $1 -> $2: rewriting /data" >&2
exec dd if=/dev/zero of=/data/migrated bs=64k
`;

/** Waits for /tmp/allocate, then eats memory without end (`tail` keeps a line that never ends). */
const GREEDY_SCRIPT = `#!/bin/sh
trap 'exit 0' TERM
while [ ! -e /tmp/allocate ]; do sleep 0.1; done
echo "allocating memory" >&2
exec tail /dev/zero
`;

before(async () => {
  ({ h, m, net, subnet } = await startTestbed());
  await Promise.all([
    buildApp(h, REPO, '1.0.0-1'),
    buildApp(h, REPO, '1.1.0-1'),
    buildApp(h, REPO, '1.1.0-2'),
    buildTestImage(h, {
      tag: `${REPO}:1.4.0-1`,
      cmd: ['/app/run'],
      files: { '/app/run': { content: GREEDY_SCRIPT, mode: 0o755 } },
    }),
    buildTestImage(h, {
      tag: `${REPO}:1.1.0-4`,
      cmd: ['/app/run'],
      labels: { 'dev.molt.pre-upgrade': '/app/fill.sh' },
      files: {
        '/app/run': { content: IDLE_SCRIPT, mode: 0o755 },
        '/app/fill.sh': { content: FILL_SCRIPT, mode: 0o755 },
      },
    }),
    buildTestImage(h, {
      tag: `${REPO}:1.1.0-3`,
      cmd: ['/app/run'],
      labels: { 'dev.molt.post-upgrade': '/app/post.sh' },
      files: {
        '/app/run': { content: IDLE_SCRIPT, mode: 0o755 },
        '/app/post.sh': { content: FILL_SCRIPT, mode: 0o755 },
      },
    }),
  ]);
});
after(async () => {
  await stopService(h);
  await h?.stop();
});

const manifest = (name: string, version: string) =>
  writeManifest(
    m,
    `${name}-${version}.yaml`,
    // restart "no": these faults model a death that stays (with the default policy the engine
    // would restart the container first; AwaitReady still reports the exit, without its code).
    appDoc({ name, version, image: `${REPO}:${version}`, network: net, subnet, failureThreshold: 1000, restart: 'no' }),
  );

/** Installs v1 with data written to its volume; what must survive. */
const installWithData = (name: string): Promise<Survivor> => installV1WithData(m, manifest(name, '1.0.0-1'), name, net);

/** Runs an upgrade to `version`, holds it at `point`, runs `fault`, lets it go on; its exit code and output. */
async function upgradeWithFault(name: string, version: string, point: string, fault: (newId: string) => Promise<void>) {
  const pause = pausePoint(m, point);
  const run = startMolt(m, ['apply', '-f', manifest(name, version)], pause.env);
  await pause.reached(run.child);
  const created = (await h.engine.listContainers([`dev.molt.app=${name}`])).find(
    (c) => c.name === name && c.labels['dev.molt.version'] === version,
  );
  await fault(created?.id ?? '');
  pause.resume();
  return { code: await run.exit, stderr: run.stderr() };
}

/** The upgrade failed with `code`, said so, rolled back, and history records the cause. */
async function assertRolledBack(
  r: { code: number; stderr: string },
  name: string,
  codes: string[],
  cause: RegExp,
): Promise<void> {
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`error\\[(${codes.join('|')})\\]: ${name}: `), r.stderr);
  assert.match(r.stderr, cause, r.stderr);
  assert.match(r.stderr, new RegExp(`${name} was rolled back to 1\\.0\\.0-1`), r.stderr);
  const op = await lastOperation(m, name);
  assert.equal(op.outcome, 'RolledBack');
  assert.ok(
    codes.includes(op.error?.code ?? ''),
    `history names the cause ${codes.join(' or ')}: ${JSON.stringify(op.error)}`,
  );
  assert.match(op.error?.message ?? '', cause);
  assert.deepEqual(
    op.steps.filter((s) => s.rollback && s.phase !== 'Completed').map((s) => s.name),
    [],
    'every rollback step that ran completed',
  );
}

describe('the Podman service crashes during an upgrade', () => {
  test('down while the new version is awaited, back during the rollback: rolled back to v1 with EngineUnavailable', async () => {
    const v1 = await installWithData('svcdown');
    const pause = pausePoint(m, 'AwaitReady:before');
    const run = startMolt(m, ['apply', '-f', manifest('svcdown', '1.1.0-1')], pause.env);
    await pause.reached(run.child);
    await crashService(h);
    pause.resume();
    await waitFor('molt to start the rollback', () => /↩ RemoveNew/.test(run.stderr()));
    await startService(h);
    await assertRolledBack(
      { code: await run.exit, stderr: run.stderr() },
      'svcdown',
      ['EngineUnavailable'],
      /no container engine answers/,
    );
    await assertBackAsBefore(h, m, net, v1);
  });

  test('restarted while molt is between StartNew and AwaitReady: the upgrade goes on with the new service and ends on v2', async () => {
    const v1 = await installWithData('svcback');
    const r = await upgradeWithFault('svcback', '1.1.0-1', 'AwaitReady:before', async () => {
      await crashService(h);
      await startService(h);
    });
    assert.equal(r.code, 0, r.stderr);
    const c = await h.engine.inspectContainer('svcback');
    assert.ok(c?.running);
    assert.equal(c.labels['dev.molt.version'], '1.1.0-1');
    assert.equal(c.networks[net], v1.ip, 'same IP');
    assert.equal(await volumeChecksum(h, 'svcback-data'), v1.sum, 'same volume bytes');
    assert.equal(await h.engine.inspectContainer(v1.id), undefined, 'the old container was removed');
    assert.equal((await lastOperation(m, 'svcback')).outcome, 'Succeeded');
  });
});

describe('the new image is removed between EnsureImage and CreateNew', () => {
  test('rolled back to v1 with ImageUnavailable', async () => {
    const v1 = await installWithData('noimage');
    const r = await upgradeWithFault('noimage', '1.1.0-2', 'CreateNew:before', async () => {
      const rmi = await h.podman(['rmi', '--force', `${REPO}:1.1.0-2`]);
      assert.equal(rmi.code, 0, rmi.stderr);
    });
    await assertRolledBack(r, 'noimage', ['ImageUnavailable'], /1\.1\.0-2/);
    await assertBackAsBefore(h, m, net, v1);
  });
});

describe('the new container dies during AwaitReady', () => {
  test('killed for lack of memory: rolled back to v1, the exit and the container output reported', async () => {
    // conmon leaves an empty `oom` file in its working directory when a container is OOM-killed:
    // the harness runs Podman in its own dir, so the test's directory (the repository) stays clean.
    const strayOom = join(process.cwd(), 'oom');
    const hadOom = existsSync(strayOom);
    const v1 = await installWithData('oom');
    const r = await upgradeWithFault('oom', '1.4.0-1', 'AwaitReady:before', async (id) => {
      // molt has no memory-limit field yet: the limit is put on the running container from outside.
      const limit = await h.podman(['update', '--memory', '32m', id]);
      assert.equal(limit.code, 0, limit.stderr);
      assert.equal((await h.engine.exec(id, ['touch', '/tmp/allocate'])).exitCode, 0);
      await waitFor(
        'the kernel to kill the greedy container',
        async () => (await h.engine.inspectContainer(id))?.running === false,
        30_000,
      );
      assert.equal((await h.engine.inspectContainer(id))?.exitCode, 137, 'killed with SIGKILL by the OOM killer');
    });
    await assertRolledBack(r, 'oom', ['ContainerExited', 'ContainerOOMKilled'], /\b137\b|lack of memory/);
    assert.match(r.stderr, /allocating memory/, "the new container's last output is shown");
    assert.match(
      r.stderr,
      /error\[\w+\]: oom: .*(SIGKILL|killed|out of memory)/i,
      'the cause says the container was killed, not that it merely exited',
    );
    await assertBackAsBefore(h, m, net, v1);
    assert.ok(hadOom || !existsSync(strayOom), `an OOM kill left ${strayOom}`);
  });

  test('killed from outside (podman kill -s KILL): rolled back to v1 with ContainerExited', async () => {
    const v1 = await installWithData('killed');
    const r = await upgradeWithFault('killed', '1.1.0-1', 'AwaitReady:before', async (id) => {
      const kill = await h.podman(['kill', '--signal', 'KILL', id]);
      assert.equal(kill.code, 0, kill.stderr);
    });
    await assertRolledBack(r, 'killed', ['ContainerExited'], /\b137\b/);
    await assertBackAsBefore(h, m, net, v1);
  });

  test('its main process SIGKILLed from the host: rolled back to v1 with ContainerExited', async () => {
    const v1 = await installWithData('hostkill');
    const r = await upgradeWithFault('hostkill', '1.1.0-1', 'AwaitReady:before', async (id) => {
      const pid = Number((await h.podman(['inspect', '--format', '{{.State.Pid}}', id])).stdout.trim());
      assert.ok(pid > 1, `the container's main process has a host pid (${pid})`);
      process.kill(pid, 'SIGKILL');
    });
    await assertRolledBack(r, 'hostkill', ['ContainerExited'], /\b137\b/);
    await assertBackAsBefore(h, m, net, v1);
  });
});

/** Creates the app's data volume as a 2 MiB filesystem of its own (mounted on the host, so it outlives containers, as a small disk would); returns its mountpoint. */
async function smallVolume(volume: string): Promise<string> {
  const created = await h.podman(['volume', 'create', volume]);
  assert.equal(created.code, 0, created.stderr);
  const mountpoint = (await h.podman(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).stdout.trim();
  const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountpoint], process.env);
  assert.equal(mounted.code, 0, mounted.stderr);
  return mountpoint;
}

describe('the data volume fills up during a script', () => {
  test('the script fails with no space left: rolled back to v1, the snapshot restored onto the full volume, the cause in history', async () => {
    const mountpoint = await smallVolume('fullvol-data');
    try {
      const v1 = await installWithData('fullvol');
      const r = await upgradeWithFault('fullvol', '1.1.0-3', 'PostUpgrade:before', async () => {
        const df = await run('df', ['-k', '--output=size', mountpoint], process.env);
        assert.match(df.stdout, /\b2048\b/, `the volume is the 2 MiB filesystem: ${df.stdout}`);
      });
      await assertRolledBack(r, 'fullvol', ['PostUpgradeFailed'], /No space left on device/);
      const op = await lastOperation(m, 'fullvol');
      assert.match(op.error?.message ?? '', /post-upgrade script/, 'the cause names the script');
      const restore = op.steps.find((s) => s.name === 'RestoreVolumes');
      assert.match(restore?.message ?? '', /restored fullvol-data/, 'the snapshot was restored');
      await assertBackAsBefore(h, m, net, v1);
    } finally {
      await run('umount', [mountpoint], process.env);
    }
  });

  test('pre-upgrade: the old version keeps running, untouched, and the cause says the script found no space', async () => {
    const mountpoint = await smallVolume('prefull-data');
    try {
      const v1 = await installWithData('prefull');
      const before = (await h.engine.exec(v1.id, ['sh', '-c', 'md5sum /data/blob /data/note'])).stdout;
      const r = await upgradeWithFault('prefull', '1.1.0-4', 'PreUpgrade:before', async () => undefined);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /error\[PreUpgradeFailed\]: prefull: .*pre-upgrade script/, r.stderr);
      assert.match(r.stderr, /No space left on device/, r.stderr);
      const op = await lastOperation(m, 'prefull');
      assert.equal(op.outcome, 'Aborted', 'nothing of the old instance was touched, so nothing to roll back');
      assert.match(op.error?.message ?? '', /No space left on device/);
      const c = await h.engine.inspectContainer('prefull');
      assert.deepEqual(
        [c?.id, c?.running, c?.labels['dev.molt.version'], c?.networks[net]],
        [v1.id, true, '1.0.0-1', v1.ip],
        'the very same old container runs at its IP',
      );
      assert.equal(
        (await h.engine.exec(v1.id, ['sh', '-c', 'md5sum /data/blob /data/note'])).stdout,
        before,
        "the app's own files are intact",
      );
      const status = JSON.parse((await molt(m, ['get', 'app', 'prefull', '-o', 'json'])).stdout).status;
      assert.deepEqual(
        [status.phase, status.installedVersion, status.lastUpgrade.outcome],
        ['Running', '1.0.0-1', 'Aborted'],
        'molt says the old version runs',
      );
    } finally {
      await run('umount', [mountpoint], process.env);
    }
  });
});
