/**
 * End to end on real Podman through the real CLI: install, upgrade with volumes and IP kept,
 * seed 002's Cmd precedence, and every refused or failed upgrade leaving v1 exactly as it was.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { volumeChecksum, type PodmanHarness } from './harness.ts';
import { appDoc, buildApp, molt, writeManifest, type MoltEnv, startTestbed } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const REPO = 'localhost/e2e-app';

before(async () => {
  ({ h, m, net, subnet } = await startTestbed());
  await Promise.all([
    buildApp(h, REPO, '1.0.0-1'),
    buildApp(h, REPO, '1.1.0-1'),
    buildApp(h, REPO, '1.2.0-1', { EXIT_AT_START: 'bad config' }),
    buildApp(h, REPO, '1.3.0-1', { NEVER_READY: '1' }),
  ]);
});
after(async () => h?.stop());

const doc = (name: string, version: string, extra: Partial<Parameters<typeof appDoc>[0]> = {}) =>
  appDoc({ name, version, image: `${REPO}:${version}`, network: net, subnet, ...extra });

async function apply(name: string, manifest: unknown) {
  return molt(m, ['apply', '-f', writeManifest(m, `${name}-${Date.now()}.yaml`, manifest)]);
}

/** Installs v1 and writes data; returns what must survive. */
async function installWithData(name: string) {
  const r = await apply(name, doc(name, '1.0.0-1'));
  assert.equal(r.code, 0, r.stderr);
  const c = await h.engine.inspectContainer(name);
  assert.ok(c?.running, 'v1 runs');
  const w = await h.engine.exec(c.id, [
    'sh',
    '-c',
    'dd if=/dev/urandom of=/data/blob bs=1k count=256 2>/dev/null; echo precious > /data/note',
  ]);
  assert.equal(w.exitCode, 0);
  return { id: c.id, ip: c.requestedIps[net] ?? '', sum: await volumeChecksum(h, `${name}-data`) };
}

async function assertStillV1(name: string, v1: { id: string; ip: string; sum: string }) {
  const c = await h.engine.inspectContainer(name);
  assert.ok(c, `${name} exists`);
  assert.equal(c.id, v1.id, 'the very same v1 container');
  assert.ok(c.running, 'v1 is running');
  assert.equal(c.image, `${REPO}:1.0.0-1`);
  assert.equal(c.networks[net], v1.ip, 'same IP');
  assert.equal(await volumeChecksum(h, `${name}-data`), v1.sum, 'volume bytes unchanged');
  const leftovers = (await h.engine.listContainers([`dev.molt.app=${name}`])).filter((x) => x.id !== v1.id);
  assert.deepEqual(
    leftovers.map((x) => x.name),
    [],
    'no helper or new container left',
  );
  const got = JSON.parse((await molt(m, ['get', 'app', name, '-o', 'json'])).stdout);
  assert.equal(got.status.installedVersion, '1.0.0-1');
  assert.equal(got.status.phase, 'Running');
}

describe('upgrade v1 → v2', () => {
  test('keeps the volume bytes and the IP, runs the v2 image and removes the old container', async () => {
    const v1 = await installWithData('keep');
    const r = await apply('keep', doc('keep', '1.1.0-1'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /app\/keep upgraded: 1\.0\.0-1 → 1\.1\.0-1/);
    const c = await h.engine.inspectContainer('keep');
    assert.ok(c?.running);
    assert.notEqual(c.id, v1.id);
    assert.equal(c.image, `${REPO}:1.1.0-1`);
    assert.equal(c.networks[net], v1.ip, 'same IP');
    const mac = (
      await h.podman(['inspect', c.id, '--format', '{{range .NetworkSettings.Networks}}{{.MacAddress}}{{end}}'])
    ).stdout.trim();
    assert.equal(
      mac,
      `02:42:${v1.ip
        .split('.')
        .map((o) => Number(o).toString(16).padStart(2, '0'))
        .join(':')}`,
      'the MAC follows the kept IP',
    );
    assert.equal(await h.engine.inspectContainer(v1.id), undefined, 'old container removed');
    assert.equal(await volumeChecksum(h, 'keep-data'), v1.sum, 'volume bytes identical');
    assert.equal((await h.engine.exec(c.id, ['cat', '/data/note'])).stdout, 'precious\n');
  });

  test('applying the same manifest again changes nothing', async () => {
    const r = await apply('keep', doc('keep', '1.1.0-1'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /unchanged/);
  });

  test('an app writing while its volume is copied: copied again with the app paused, then upgraded', async () => {
    // Appends without pause, as a busy database writes: a copy taken while it runs is never one moment's state.
    // 64 MiB take tar long enough to read that the appends always land during the read.
    const command = [
      'sh',
      '-c',
      'dd if=/dev/zero of=/data/log bs=1M count=64 2>/dev/null; touch /tmp/ready; while :; do echo line >> /data/log; done',
    ];
    assert.equal((await apply('busy', doc('busy', '1.0.0-1', { command }))).code, 0);
    const r = await apply('busy', doc('busy', '1.1.0-1', { command }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /SnapshotVolumes .*busy-data changed while copied, so copied again with the app paused/);
    const c = await h.engine.inspectState('busy');
    assert.equal(c?.status, 'running', 'the new version runs (nothing is left paused)');
    await h.engine.removeContainer('busy', { kill: true });
  });
});

describe('Cmd precedence (seed 002)', () => {
  const argvOf = async (name: string) =>
    (await h.engine.exec((await h.engine.inspectContainer(name))!.id, ['cat', '/tmp/argv'])).stdout.trim();

  test('CMD3: the command in the manifest is used', async () => {
    assert.equal((await apply('cmd3', doc('cmd3', '1.0.0-1'))).code, 0);
    assert.equal((await apply('cmd3', doc('cmd3', '1.1.0-1', { command: ['/app/run', 'from-manifest'] }))).code, 0);
    assert.equal(await argvOf('cmd3'), 'from-manifest');
  });

  test('CMD1: a customised old command is kept when the manifest gives none', async () => {
    assert.equal((await apply('cmd1', doc('cmd1', '1.0.0-1', { command: ['/app/run', 'customised'] }))).code, 0);
    assert.equal((await apply('cmd1', doc('cmd1', '1.1.0-1'))).code, 0);
    assert.equal(await argvOf('cmd1'), 'customised');
  });

  test('CMD4: the new image default is used when the old command was the old image default', async () => {
    assert.equal((await apply('cmd4', doc('cmd4', '1.0.0-1'))).code, 0);
    assert.equal(await argvOf('cmd4'), 'image-default-1.0.0-1');
    assert.equal((await apply('cmd4', doc('cmd4', '1.1.0-1'))).code, 0);
    assert.equal(await argvOf('cmd4'), 'image-default-1.1.0-1');
  });

  test('CMD2: the old image default is never carried over', async () => {
    assert.notEqual(await argvOf('cmd4'), 'image-default-1.0.0-1');
    const c = await h.engine.inspectContainer('cmd4');
    assert.deepEqual(c?.cmd, ['/app/run', 'image-default-1.1.0-1']);
  });
});

describe('failures leave v1 running with its IP and data', () => {
  test('image missing: nothing touched', async () => {
    const v1 = await installWithData('nimg1');
    const r = await apply(
      'nimg1',
      appDoc({ name: 'nimg1', version: '1.4.0-1', image: `${REPO}:does-not-exist`, network: net, subnet }),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[ImageUnavailable\].*does-not-exist/);
    await assertStillV1('nimg1', v1);
  });

  test('new container exits at once', async () => {
    const v1 = await installWithData('exits');
    const r = await apply('exits', doc('exits', '1.2.0-1'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[ContainerExited\].*exited with code 7/s);
    assert.match(r.stderr, /exiting at start: bad config/);
    assert.match(r.stderr, /rolled back to 1\.0\.0-1/);
    await assertStillV1('exits', v1);
  });

  test('startup probe never passes (within the raised upgrade budget)', async () => {
    const v1 = await installWithData('probe');
    const r = await apply(
      'probe',
      doc('probe', '1.3.0-1', { failureThreshold: 2, upgrade: { startupFailureThreshold: 6 } }),
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[ProbeFailed\]: .*startup probe failed 6 times/);
    await assertStillV1('probe', v1);
  });

  test('downgrade without forceUpgrade is refused before anything is touched', async () => {
    const v1 = await installWithData('down');
    const up = await apply('down', doc('down', '1.1.0-1'));
    assert.equal(up.code, 0, up.stderr);
    const before = await h.engine.inspectContainer('down');
    const r = await apply('down', doc('down', '1.0.0-1'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[DowngradeRefused\]: version 1\.0\.0-1 is lower than the installed 1\.1\.0-1/);
    assert.match(r.stderr, /forceUpgrade/);
    assert.equal((await h.engine.inspectContainer('down'))?.id, before?.id, 'same container');
    assert.equal(await volumeChecksum(h, 'down-data'), v1.sum);
    const forced = await apply('down', doc('down', '1.0.0-1', { forceUpgrade: true }));
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /WARNING: DOWNGRADE/);
  });

  test('namespace switch without allowNamespaceSwitch is refused', async () => {
    const v1 = await installWithData('ns');
    const r = await apply('ns', doc('ns', '1.1.0-1', { pkg: 'other/app' }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[NamespaceSwitchRefused\].*"test" to "other"/);
    await assertStillV1('ns', v1);
  });

  test('malformed YAML names file:line and changes nothing', async () => {
    const v1 = await installWithData('yaml');
    const file = writeManifest(
      m,
      'broken.yaml',
      'apiVersion: molt.dev/v1alpha1\nkind: App\nmetadata:\n  name: yaml\nspec:\n  version: [1.1.0\n',
    );
    const r = await molt(m, ['apply', '-f', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: YAML`));
    await assertStillV1('yaml', v1);
  });
});
