/**
 * Bringing what users already run (issue 14), end to end on real Podman through the real CLI:
 * `molt upgrade CONTAINER` on containers started with plain `podman run` (seed 002: everything
 * kept, the four CMD cases, a broken image leaves the very same container running), `molt
 * adopt` of such a container, and Compose files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestImage, volumeChecksum, type PodmanHarness } from './harness.ts';
import { buildApp, molt, startTestbed, writeManifest, type MoltEnv } from './molt-cli.ts';
import { DockerHttpClient } from '../../src/engines/docker/http.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
let http: DockerHttpClient;
const REPO = 'localhost/e2e-own';
const SCRIPTED = 'localhost/e2e-scripted';

before(async () => {
  ({ h, m, net, subnet } = await startTestbed());
  http = new DockerHttpClient({ socketPath: h.socket });
  await h.engine.createNetwork(net, subnet);
  await Promise.all([
    buildApp(h, REPO, '1.0.0'),
    buildApp(h, REPO, '2.0.0'),
    buildApp(h, REPO, '3.0.0', { EXIT_AT_START: 'broken build' }),
    scriptedImage('1.0.0', {}),
    scriptedImage('2.0.0', {
      pre: 'echo "pre $1 -> $2" > /data/pre-ran',
      post: 'echo "post $1 -> $2" > /data/post-ran',
    }),
  ]);
});
after(async () => h?.stop());

/** An app image whose new version carries upgrade scripts as labels. */
async function scriptedImage(version: string, scripts: { pre?: string; post?: string }): Promise<void> {
  const start =
    '#!/bin/sh\ntrap "exit 0" TERM\nif [ -e /.molt/upgrade ]; then while [ ! -e /.molt/upgrade-done ]; do sleep 0.1; done; fi\necho "$*" > /tmp/argv\ntouch /tmp/ready\nwhile true; do sleep 1 & wait $!; done\n';
  const files: Record<string, { content: string; mode: number }> = { '/app/run': { content: start, mode: 0o755 } };
  if (scripts.pre) files['/app/pre'] = { content: `#!/bin/sh\n${scripts.pre}\n`, mode: 0o755 };
  if (scripts.post) files['/app/post'] = { content: `#!/bin/sh\n${scripts.post}\n`, mode: 0o755 };
  await buildTestImage(h, {
    tag: `${SCRIPTED}:${version}`,
    cmd: ['/app/run', `image-default-${version}`],
    files,
    env: { APP_VERSION: version },
    labels: {
      ...(scripts.pre ? { 'dev.molt.pre-upgrade': '/app/pre' } : {}),
      ...(scripts.post ? { 'dev.molt.post-upgrade': '/app/post' } : {}),
    },
  });
}

/** The raw inspect output of a container (what `podman inspect` shows through the Docker API). */
async function inspect(name: string): Promise<{
  Id: string;
  Config: { Env: string[]; Cmd: string[]; Image: string };
  HostConfig: Record<string, unknown>;
  NetworkSettings: { Networks: Record<string, { IPAddress: string; MacAddress: string }> };
  State: { Running: boolean };
}> {
  const { value } = await http.json<never>('GET', `/containers/${encodeURIComponent(name)}/json`);
  assert.ok(value, `container ${name} exists`);
  return value;
}

async function podmanRun(args: string[]): Promise<void> {
  const r = await h.podman(['run', '-d', ...args]);
  assert.equal(r.code, 0, r.stderr);
}

const argvOf = async (name: string) => (await h.engine.exec(name, ['cat', '/tmp/argv'])).stdout.trim();
let port = 20000 + (process.pid % 20000);

/** What must survive an upgrade of a container started with plain `podman run`. */
async function identity(name: string) {
  const c = await inspect(name);
  const n = c.NetworkSettings.Networks[net]!;
  return {
    ip: n.IPAddress,
    mac: n.MacAddress,
    ports: JSON.stringify(c.HostConfig.PortBindings),
    restart: JSON.stringify(c.HostConfig.RestartPolicy),
    memory: c.HostConfig.Memory,
    capAdd: JSON.stringify(c.HostConfig.CapAdd),
    hostname: (c.Config as unknown as { Hostname: string }).Hostname,
    userEnv: c.Config.Env.filter((e) => e.startsWith('FOO=')),
  };
}

describe('molt upgrade CONTAINER (seed 002 on containers molt did not create)', () => {
  const name = 'db';
  let before1: Awaited<ReturnType<typeof identity>>;
  let sum: string;

  test('a broken new image (exits at once) leaves the very same podman-run container running with its data, IP, MAC, port, restart, memory, env and command', async () => {
    const ip = subnet.replace(/0\/24$/, '20');
    port += 1;
    await podmanRun([
      '--name',
      name,
      '-v',
      'dbdata:/data',
      '--network',
      net,
      '--ip',
      ip,
      '-p',
      `127.0.0.1:${port}:8080`,
      '--restart',
      'always',
      '--memory',
      '64m',
      '-e',
      'FOO=bar',
      '--cap-add',
      'NET_ADMIN',
      '--hostname',
      'dbhost',
      `${REPO}:1.0.0`,
      '/app/run',
      'customised',
    ]);
    assert.equal(
      (
        await h.engine.exec(name, [
          'sh',
          '-c',
          'dd if=/dev/urandom of=/data/blob bs=1k count=128 2>/dev/null; echo precious > /data/note',
        ])
      ).exitCode,
      0,
    );
    before1 = await identity(name);
    sum = await volumeChecksum(h, 'dbdata');
    await brokenLeavesAll(`${REPO}:1.0.0`);
  });

  test("keeps the named volume's data, static IP, MAC, published port, restart policy, memory limit, user env and the customised command", async () => {
    const old = await inspect(name);
    const r = await molt(m, ['upgrade', name, '--image', `${REPO}:2.0.0`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /container\/db upgraded: localhost\/e2e-own:1\.0\.0 → localhost\/e2e-own:2\.0\.0/);
    const now = await inspect(name);
    assert.notEqual(now.Id, old.Id, 'a new container');
    assert.ok(now.State.Running);
    assert.equal(now.Config.Image, `${REPO}:2.0.0`);
    assert.deepEqual(await identity(name), before1, 'IP, MAC, port, restart, memory, caps, hostname and FOO kept');
    assert.equal(before1.ip, subnet.replace(/0\/24$/, '20'));
    assert.equal(before1.memory, 64 * 1024 * 1024);
    assert.ok(now.Config.Env.includes('APP_VERSION=2.0.0'), "the new image's env defaults");
    assert.equal(await argvOf(name), 'customised', 'CMD1: the customised command is kept');
    assert.equal(await volumeChecksum(h, 'dbdata'), sum, 'volume bytes identical');
    assert.equal(await h.engine.inspectContainer(old.Id), undefined, 'the old container is removed');
    const history = await molt(m, ['history', name]);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /upgrade 1\.0\.0 → 2\.0\.0\s+Succeeded/);
    assert.match(history.stdout, /SnapshotVolumes/);
  });

  test('after an upgrade, a broken new image again leaves the very same container with all of it', async () =>
    brokenLeavesAll(`${REPO}:2.0.0`));

  async function brokenLeavesAll(image: string) {
    const old = await inspect(name);
    const r = await molt(m, ['upgrade', name, '--image', `${REPO}:3.0.0`, '--min-ready', '5']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /error\[ContainerExited\]/);
    assert.match(r.stderr, /the same container/);
    const now = await inspect(name);
    assert.equal(now.Id, old.Id, 'the very same container');
    assert.ok(now.State.Running);
    assert.equal(now.Config.Image, image);
    assert.deepEqual(await identity(name), before1, 'IP, MAC, port, restart, memory, caps, hostname and FOO as before');
    assert.equal(await volumeChecksum(h, 'dbdata'), sum);
    assert.equal(await argvOf(name), 'customised');
    const left = (await h.podman(['ps', '-a', '--format', '{{.Names}}'])).stdout
      .split('\n')
      .filter((n) => n.startsWith(name));
    assert.deepEqual(left, [name], 'nothing left behind');
  }

  test('the same image is refused like pouch: "image not changed"; nothing touched', async () => {
    const old = await inspect(name);
    const r = await molt(m, ['upgrade', name, '--image', `${REPO}:2.0.0`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /image not changed/);
    assert.equal((await inspect(name)).Id, old.Id);
  });

  test('a missing container is a clear error', async () => {
    const r = await molt(m, ['upgrade', 'no-such-thing', '--image', `${REPO}:2.0.0`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[ContainerNotFound\]: no container "no-such-thing"/);
  });
});

describe("seed 002's four CMD cases on containers molt did not create", () => {
  test("CMD4 (and never CMD2): a container running its image default gets the new image's default", async () => {
    await podmanRun(['--name', 'cmd4', '--network', net, `${REPO}:1.0.0`]);
    assert.equal(await argvOf('cmd4'), 'image-default-1.0.0');
    const r = await molt(m, ['upgrade', 'cmd4', '--image', `${REPO}:2.0.0`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await argvOf('cmd4'), 'image-default-2.0.0', 'CMD4, not the old image default (CMD2)');
  });

  test('CMD1: a customised command is kept', async () => {
    await podmanRun(['--name', 'cmd1', '--network', net, `${REPO}:1.0.0`, '/app/run', 'mine']);
    assert.equal((await molt(m, ['upgrade', 'cmd1', '--image', `${REPO}:2.0.0`])).code, 0);
    assert.equal(await argvOf('cmd1'), 'mine');
  });

  test('CMD3: the command given to molt upgrade wins', async () => {
    await podmanRun(['--name', 'cmd3', '--network', net, `${REPO}:1.0.0`, '/app/run', 'mine']);
    const r = await molt(m, ['upgrade', 'cmd3', '--image', `${REPO}:2.0.0`, '--', '/app/run', 'requested']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await argvOf('cmd3'), 'requested');
  });

  test('a dynamically assigned IP is kept (pinned as static on the new container)', async () => {
    const before2 = (await inspect('cmd4')).NetworkSettings.Networks[net]!;
    await podmanRun(['--name', 'dyn', '--network', net, `${REPO}:1.0.0`]);
    const old = (await inspect('dyn')).NetworkSettings.Networks[net]!;
    assert.equal((await molt(m, ['upgrade', 'dyn', '--image', `${REPO}:2.0.0`])).code, 0);
    const now = (await inspect('dyn')).NetworkSettings.Networks[net]!;
    assert.equal(now.IPAddress, old.IPAddress);
    assert.equal(now.MacAddress, old.MacAddress);
    assert.ok(before2.IPAddress !== '');
  });
});

describe('molt adopt CONTAINER, then manage it as an app', () => {
  const name = 'legacy';
  let manifestText = '';
  let kept: Awaited<ReturnType<typeof identity>>;

  test('records the container without restarting it; plan -f of the printed manifest: exit 0, nothing to do', async () => {
    const ip = subnet.replace(/0\/24$/, '30');
    port += 1;
    await podmanRun([
      '--name',
      name,
      '-v',
      'legacydata:/data',
      '--network',
      net,
      '--ip',
      ip,
      '-p',
      `127.0.0.1:${port}:8080`,
      '--restart',
      'on-failure:3',
      '--memory',
      '96m',
      '-e',
      'FOO=adopted',
      '--cap-add',
      'NET_ADMIN',
      `${SCRIPTED}:1.0.0`,
      '/app/run',
      'legacy-cmd',
    ]);
    assert.equal((await h.engine.exec(name, ['sh', '-c', 'echo precious > /data/note'])).exitCode, 0);
    const old = await inspect(name);
    const started = (old.State as unknown as { StartedAt: string }).StartedAt;
    kept = await identity(name);
    const r = await molt(m, ['adopt', name]);
    assert.equal(r.code, 0, r.stderr);
    manifestText = r.stdout;
    assert.match(manifestText, /version: 1\.0\.0/);
    assert.match(manifestText, /- \/app\/run\n\s+- legacy-cmd/, 'the customised command');
    assert.match(manifestText, /FOO: adopted/);
    assert.match(manifestText, new RegExp(`ipv4: ${ip.replace(/\./g, '\\.')}`));
    assert.match(manifestText, new RegExp(`- 127\\.0\\.0\\.1:${port}:8080`));
    assert.match(manifestText, /restart: on-failure:3/);
    assert.match(manifestText, /memory: 100663296/);
    assert.match(manifestText, /name: legacydata/);
    assert.doesNotMatch(
      manifestText,
      /APP_VERSION|container: podman|HOSTNAME/,
      "image defaults and engine env are not the user's",
    );
    const now = await inspect(name);
    assert.equal(now.Id, old.Id);
    assert.equal((now.State as unknown as { StartedAt: string }).StartedAt, started, 'not restarted');
    const file = writeManifest(m, 'legacy.yaml', manifestText);
    const plan = await molt(m, ['plan', '-f', file]);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    assert.match(plan.stdout, /app\/legacy: no changes/);
    const got = JSON.parse((await molt(m, ['get', 'app', name, '-o', 'json'])).stdout);
    assert.equal(got.status.installedVersion, '1.0.0');
    // -f of a molt manifest names its app, as `kubectl get -f` does: the object itself, not a List.
    const byFile = await molt(m, ['get', '-f', file, '-o', 'json']);
    assert.equal(byFile.code, 0, byFile.stderr);
    assert.equal(JSON.parse(byFile.stdout).metadata.name, name);
    const nothing = await molt(m, ['rollback', '-f', file]);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /nothing to roll back in .*legacy\.yaml: legacy: it has no recorded operation/);
  });

  test('a new version in the manifest upgrades it like any app: scripts, snapshots, everything kept', async () => {
    const sum = await volumeChecksum(h, 'legacydata');
    const v2 = manifestText
      .replace(/version: 1\.0\.0/, 'version: 2.0.0')
      .replace(`image: ${SCRIPTED}:1.0.0`, `image: ${SCRIPTED}:2.0.0`);
    const file = writeManifest(m, 'legacy-2.yaml', v2);
    const plan = await molt(m, ['plan', '-f', file]);
    assert.equal(plan.code, 2, plan.stdout + plan.stderr);
    const r = await molt(m, ['apply', '-f', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /app\/legacy upgraded: 1\.0\.0 → 2\.0\.0/);
    assert.equal(
      (await h.engine.exec(name, ['cat', '/data/pre-ran'])).stdout.trim(),
      'pre 1.0.0 -> 2.0.0',
      'pre-upgrade ran in the old container',
    );
    assert.equal((await h.engine.exec(name, ['cat', '/data/post-ran'])).stdout.trim(), 'post 1.0.0 -> 2.0.0');
    assert.equal((await h.engine.exec(name, ['cat', '/data/note'])).stdout.trim(), 'precious');
    assert.equal(await argvOf(name), 'legacy-cmd');
    const now = await inspect(name);
    assert.equal(now.Config.Image, `${SCRIPTED}:2.0.0`);
    assert.deepEqual({ ...(await identity(name)), userEnv: [] }, { ...kept, userEnv: [] });
    assert.ok(now.Config.Env.includes('FOO=adopted'));
    const snaps = await molt(m, ['snapshots', name, '-o', 'json']);
    assert.equal(snaps.code, 0, snaps.stderr);
    assert.match(snaps.stdout, /legacydata/);
    assert.notEqual(sum, '');
    assert.equal((await molt(m, ['plan', '-f', file])).code, 0, 'nothing left to do');
  });

  test('molt delete of an adopted app removes its container (molt never re-created it); its volume stays', async () => {
    await podmanRun(['--name', 'gone', '-v', 'gonedata:/data', '--network', net, `${REPO}:1.0.0`]);
    assert.equal((await molt(m, ['adopt', 'gone'])).code, 0);
    const r = await molt(m, ['delete', 'gone']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /container gone/);
    assert.equal(await h.engine.inspectContainer('gone'), undefined);
    assert.ok(await h.engine.volumeExists('gonedata'));
  });

  test('no version to be had: refused with what to pass', async () => {
    await h.podman(['tag', `${REPO}:1.0.0`, `${REPO}:latest`]);
    await podmanRun(['--name', 'nover', '--network', net, `${REPO}:latest`]);
    const r = await molt(m, ['adopt', 'nover']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /cannot tell which version nover runs: its image localhost\/e2e-own:latest has the tag "latest"/,
    );
    assert.match(r.stderr, /molt adopt nover --version/);
    assert.equal((await molt(m, ['get', 'app', 'nover'])).code, 1, 'nothing recorded');
  });
});

describe('Compose files: molt apply|plan|get|history|rollback -f compose.yaml', () => {
  let dir = '';
  let composeNet = '';
  let composeSubnet = '';
  let webPort = 0;
  const compose = (dbTag: string) => `name: shop
services:
  web:
    image: ${REPO}:1.0.0
    command: ["/app/run", "web"]
    depends_on:
      db: {condition: service_healthy}
    ports: ["127.0.0.1:${webPort}:8080"]
    env_file: web.env
    networks: [front]
  db:
    image: ${SCRIPTED}:${dbTag}
    volumes: ["data:/data"]
    environment: {ROLE: primary}
    healthcheck:
      test: ["CMD", "cat", "/tmp/ready"]
      interval: 2s
      retries: 3
    deploy: {resources: {limits: {memory: 128m}}}
    networks:
      front: {ipv4_address: ${composeSubnet.replace(/0\/24$/, '5')}}
    x-molt:
      probes: {startup: {exec: [cat, /tmp/ready], periodSeconds: 0.2}}
volumes:
  data: {}
networks:
  front:
    name: ${composeNet}
    ipam: {config: [{subnet: ${composeSubnet}}]}
`;

  before(() => {
    dir = join(m.dir, 'shop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'web.env'), 'GREETING=hello\n# a comment\n');
    composeNet = h.name('front');
    composeSubnet = h.freeSubnet();
    port += 1;
    webPort = port;
  });

  const write = (text: string) => {
    const file = join(dir, 'compose.yaml');
    writeFileSync(file, text);
    return file;
  };

  test('two services are applied in depends_on order, with ports, named volume, env_file, healthcheck and limits', async () => {
    const r = await molt(m, ['apply', '-f', write(compose('1.0.0'))]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /app\/shop-db created: 1\.0\.0\napp\/shop-web created: 1\.0\.0/, 'db before web');
    const db = await inspect('shop-db');
    const web = await inspect('shop-web');
    assert.equal(db.HostConfig.Memory, 128 * 1024 * 1024);
    assert.ok(db.Config.Env.includes('ROLE=primary'));
    assert.deepEqual((db.Config as unknown as { Healthcheck: { Test: string[] } }).Healthcheck.Test, [
      'CMD',
      'cat',
      '/tmp/ready',
    ]);
    assert.equal(db.NetworkSettings.Networks[composeNet]?.IPAddress, composeSubnet.replace(/0\/24$/, '5'));
    assert.ok(web.Config.Env.includes('GREETING=hello'), 'env_file');
    assert.deepEqual(web.HostConfig.PortBindings, { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(webPort) }] });
    assert.equal(await argvOf('shop-web'), 'web');
    assert.ok((await h.podman(['volume', 'exists', 'shop_data'])).code === 0, "Compose's volume name <project>_<name>");
    assert.equal((await h.engine.exec('shop-db', ['sh', '-c', 'echo precious > /data/note'])).exitCode, 0);
    const plan = await molt(m, ['plan', '-f', write(compose('1.0.0'))]);
    assert.equal(plan.code, 0, plan.stdout);
    const file = write(compose('1.0.0'));
    const got = await molt(m, ['get', '-f', file]);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /^NAME +VERSION +PHASE/);
    assert.match(got.stdout, /\nshop-db +1\.0\.0 +Running +[\d.]+ .*\nshop-web +1\.0\.0 +Running/, 'apply order');
    const json = await molt(m, ['get', '-f', file, '-o', 'json']);
    assert.deepEqual(
      JSON.parse(json.stdout).items.map((a: { metadata: { name: string } }) => a.metadata.name),
      ['shop-db', 'shop-web'],
    );
    const nothing = await molt(m, ['rollback', '-f', file]);
    assert.equal(nothing.code, 1, nothing.stderr);
    assert.match(
      nothing.stderr,
      /error\[ChangeRefused\]: nothing to roll back in .*compose\.yaml: shop-web \(service web\): its last operation \(#\d+ install ∅ → 1\.0\.0\) installed it/,
    );
  });

  test('get, history and rollback -f name a service the file has that was never applied, and a service it does not have', async () => {
    const more = write(
      compose('1.0.0').replace(
        'volumes:\n  data: {}',
        `  cache:\n    image: ${REPO}:1.0.0\n    networks: [front]\nvolumes:\n  data: {}`,
      ),
    );
    const got = await molt(m, ['get', '-f', more]);
    assert.equal(got.code, 1);
    assert.match(got.stdout, /shop-db[^]*shop-web/, 'the applied ones are shown');
    assert.match(
      got.stderr,
      /error\[AppNotFound\]: service "cache" of .*compose\.yaml \(app shop-cache\) was never applied\nhint: `molt apply -f /,
    );
    const history = await molt(m, ['history', '-f', more]);
    assert.equal(history.code, 1);
    assert.match(history.stderr, /service "cache" .* was never applied/);
    const named = await molt(m, ['rollback', '-f', more, 'cache']);
    assert.equal(named.code, 1);
    assert.match(named.stderr, /service "cache" .* was never applied/);
    const unknown = await molt(m, ['rollback', '-f', more, 'queue']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /has no service or app "queue"\nhint: Name one of: db, web, cache\./);
    const missing = await molt(m, ['get', '-f', join(dir, 'no-such-compose.yaml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error\[InvalidInput\]: .*no-such-compose\.yaml: no such file/);
    assert.equal((await molt(m, ['get', 'app', 'shop-cache'])).code, 1, 'nothing was created');
  });

  test('changing one tag: plan shows exactly that service; apply upgrades only it (scripts run, data kept); rollback -f takes back only it', async () => {
    const webBefore = (await inspect('shop-web')).Id;
    const file = write(compose('2.0.0'));
    const plan = await molt(m, ['plan', '-f', file]);
    assert.equal(plan.code, 2, plan.stdout + plan.stderr);
    assert.match(plan.stdout, /app\/shop-db: upgrade 1\.0\.0 → 2\.0\.0/);
    assert.match(plan.stdout, /app\/shop-web: no changes/);
    const r = await molt(m, ['apply', '-f', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /app\/shop-db upgraded: 1\.0\.0 → 2\.0\.0/);
    assert.match(r.stdout, /app\/shop-web unchanged/);
    assert.equal((await inspect('shop-web')).Id, webBefore, 'the other service was not touched');
    assert.equal((await inspect('shop-db')).Config.Image, `${SCRIPTED}:2.0.0`);
    assert.equal((await h.engine.exec('shop-db', ['cat', '/data/pre-ran'])).stdout.trim(), 'pre 1.0.0 -> 2.0.0');
    assert.equal((await h.engine.exec('shop-db', ['cat', '/data/note'])).stdout.trim(), 'precious');
    const onlyInstalled = await molt(m, ['rollback', '-f', file, 'web']);
    assert.equal(onlyInstalled.code, 1);
    assert.match(onlyInstalled.stderr, /app "shop-web" has no previous version to roll back to/);
    const back = await molt(m, ['rollback', '-f', file]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stderr, /shop-web \(service web\): not rolled back: its last operation \(#\d+ install/);
    assert.match(back.stdout, /^app\/shop-db rolled back: 2\.0\.0 → 1\.0\.0\n$/);
    const db = await inspect('shop-db');
    assert.equal(db.Config.Image, `${SCRIPTED}:1.0.0`);
    assert.equal(db.HostConfig.Memory, 128 * 1024 * 1024);
    assert.equal((await h.engine.exec('shop-db', ['cat', '/data/note'])).stdout.trim(), 'precious');
    assert.equal((await inspect('shop-web')).Id, webBefore);
    const again = await molt(m, ['plan', '-f', write(compose('1.0.0'))]);
    assert.equal(again.code, 0, again.stdout);
    const history = await molt(m, ['history', '-f', file]);
    assert.equal(history.code, 0, history.stderr);
    assert.match(
      history.stdout,
      /^app\/shop-db \(service db\):\n#\d+ install ∅ → 1\.0\.0 .*\n[^]*#\d+ upgrade 1\.0\.0 → 2\.0\.0 [^]*#\d+ rollback 2\.0\.0 → 1\.0\.0 /,
    );
    assert.match(history.stdout, /\napp\/shop-web \(service web\):\n#\d+ install ∅ → 1\.0\.0 /);
    const historyJson = JSON.parse((await molt(m, ['history', '-f', file, '-o', 'json'])).stdout);
    assert.deepEqual(
      historyJson.items.map((i: { name: string; service: string; history: unknown[] }) => [
        i.name,
        i.service,
        i.history.length,
      ]),
      [
        ['shop-db', 'db', 3],
        ['shop-web', 'web', 1],
      ],
    );
  });

  test('a service already running under podman-compose is adopted (--name <project>-<service>) and then driven from the same file', async () => {
    await podmanRun([
      '--name',
      'legacy_cache_1',
      '-v',
      'legacy_cache:/data',
      '--network',
      net,
      '--label',
      'com.docker.compose.project=legacy',
      `${REPO}:1.0.0`,
      '/app/run',
      'cache',
    ]);
    assert.equal((await h.engine.exec('legacy_cache_1', ['sh', '-c', 'echo cached > /data/note'])).exitCode, 0);
    const id = (await inspect('legacy_cache_1')).Id;
    const adopted = await molt(m, ['adopt', 'legacy_cache_1', '--name', 'legacy-cache']);
    assert.equal(adopted.code, 0, adopted.stderr);
    assert.equal((await inspect('legacy-cache')).Id, id, 'renamed, same container');
    const file = (tag: string) => {
      const d = join(m.dir, 'legacy');
      mkdirSync(d, { recursive: true });
      const f = join(d, 'compose.yaml');
      writeFileSync(
        f,
        `services:\n  cache:\n    image: ${REPO}:${tag}\n    command: /app/run cache\n    restart: "no"\n    volumes: [cache:/data]\nvolumes:\n  cache: {}\nnetworks:\n  default: {name: ${net}, external: true}\n`,
      );
      return f;
    };
    const first = await molt(m, ['apply', '-f', file('1.0.0')]);
    assert.equal(first.code, 0, first.stderr);
    const upgraded = await molt(m, ['apply', '-f', file('2.0.0')]);
    assert.equal(upgraded.code, 0, upgraded.stderr);
    assert.match(upgraded.stdout, /app\/legacy-cache upgraded: 1\.0\.0 → 2\.0\.0/);
    assert.equal((await h.engine.exec('legacy-cache', ['cat', '/data/note'])).stdout.trim(), 'cached');
    assert.equal(await argvOf('legacy-cache'), 'cache');
    assert.equal((await molt(m, ['plan', '-f', file('2.0.0')])).code, 0);
  });

  test('build: is refused at its line, naming it; nothing is touched', async () => {
    const text = compose('1.0.0').replace('  db:\n', '  db:\n    build: ./db\n');
    const line = text.split('\n').indexOf('    build: ./db') + 1;
    const before3 = (await inspect('shop-db')).Id;
    const r = await molt(m, ['apply', '-f', write(text)]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`compose\\.yaml:${line}:5: services\\.db\\.build: "build" is not supported by molt`),
    );
    assert.equal((await inspect('shop-db')).Id, before3);
  });
});
