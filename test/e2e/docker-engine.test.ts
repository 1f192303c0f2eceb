/**
 * DockerEngine against a real, isolated Podman (see harness.ts). One harness for the file;
 * every test creates what it needs under unique names.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { EngineError, EngineUnavailableError, ImageUnavailableError } from '../../src/core/errors.ts';
import type { ContainerSpec } from '../../src/core/model.ts';
import { bridgeName } from '../../src/engines/docker/convert.ts';
import { discoverEngine, wellKnownSockets } from '../../src/engines/docker/discover.ts';
import { DockerEngine } from '../../src/engines/docker/engine.ts';
import { buildTestImage, reapDir, startPodman, volumeChecksum } from './harness.ts';
import type { PodmanHarness } from './harness.ts';

let h: PodmanHarness;
let engine: DockerEngine;
let network: string;
let subnet: string;
/** `10.90.N.` of this file's subnet. */
let prefix: string;
const IMAGE = 'localhost/molt-test/app:1';

before(async () => {
  h = await startPodman();
  engine = h.engine;
  await buildTestImage(h, {
    tag: IMAGE,
    cmd: ['sleep', '1000'],
    labels: { 'org.example.flavour': 'plain' },
    volumes: ['/data'],
    files: { '/app/hello.sh': { content: '#!/bin/sh\necho "hello $1"\n', mode: 0o755 } },
  });
  network = h.name('net');
  subnet = h.freeSubnet();
  prefix = subnet.replace(/0\/24$/, '');
  await engine.createNetwork(network, subnet);
});

after(async () => {
  await h?.stop();
});

function spec(name: string, overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: h.name(name),
    image: IMAGE,
    env: { MOLT_TEST: '1' },
    labels: { 'dev.molt.app': h.name('app'), 'test.case': name },
    mounts: [],
    network: { name: network, ipv4: '' },
    stopTimeoutSeconds: 0,
    ...overrides,
  };
}

async function running(name: string, overrides: Partial<ContainerSpec> = {}): Promise<string> {
  const id = await engine.createContainer(spec(name, overrides));
  await engine.startContainer(id);
  return id;
}

describe('images', () => {
  it('inspectImage reports cmd, entrypoint, labels and volumes, and undefined for an unknown image', async () => {
    const image = await engine.inspectImage(IMAGE);
    assert.ok(image);
    assert.match(image.id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(image.cmd, ['sleep', '1000']);
    assert.equal(image.entrypoint, undefined);
    assert.equal(image.labels['org.example.flavour'], 'plain');
    assert.deepEqual(image.volumes, ['/data']);
    assert.equal(await engine.inspectImage('localhost/molt-test/none:1'), undefined);
  });

  it('pullImage of an image no registry has fails quickly with ImageUnavailableError', async () => {
    const started = Date.now();
    await assert.rejects(engine.pullImage('registry.invalid/molt/none:1'), (error: unknown) => {
      assert.ok(error instanceof ImageUnavailableError, String(error));
      assert.match(error.message, /registry\.invalid\/molt\/none:1/);
      return true;
    });
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });

  it('buildImage builds from a context with a Containerfile, and reports a failing build as EngineError', async () => {
    const context = async (containerfile: string): Promise<Readable> => {
      const pack = tar.pack();
      pack.entry({ name: 'Containerfile' }, containerfile);
      pack.entry({ name: 'hello.txt' }, 'hi\n');
      pack.finalize();
      return Readable.from(pack);
    };
    const tag = 'localhost/molt-test/built:1';
    await engine.buildImage(tag, await context(`FROM ${IMAGE}\nCOPY hello.txt /hello.txt\nLABEL built=yes\n`));
    const image = await engine.inspectImage(tag);
    assert.equal(image?.labels.built, 'yes');
    assert.deepEqual(image?.cmd, ['sleep', '1000']);
    await assert.rejects(
      engine.buildImage('localhost/molt-test/broken:1', await context(`FROM ${IMAGE}\nRUN exit 3\n`)),
      EngineError,
    );
  });
});

describe('networks and static addresses', () => {
  it('inspectNetwork reports the subnet; creating it again with the same subnet changes nothing', async () => {
    assert.deepEqual(await engine.inspectNetwork(network), { name: network, subnets: [subnet] });
    await engine.createNetwork(network, subnet);
    assert.equal(await engine.inspectNetwork(h.name('no-such-net')), undefined);
  });

  it("inspectNetwork answers the same through Podman's own API (after ping) and the compatible one", async () => {
    const podman = new DockerEngine({ socketPath: h.socket });
    await podman.ping();
    assert.match(podman.description, /^podman /);
    const compatible = new DockerEngine({ socketPath: h.socket });
    assert.deepEqual(await podman.inspectNetwork(network), await compatible.inspectNetwork(network));
    assert.deepEqual(await podman.inspectNetwork(network), { name: network, subnets: [subnet] });
    assert.equal(await podman.inspectNetwork(h.name('no-such-net')), undefined);
  });

  it('names the bridge after the network, not podmanN', async () => {
    const id = await running('bridge');
    const link = execFileSync('ip', ['-o', 'link', 'show', bridgeName(network)], { encoding: 'utf8' });
    assert.match(link, new RegExp(bridgeName(network)));
    await engine.removeContainer(id);
  });

  it('a static IP is refused to a second container while the first runs, and reused once it stops', async () => {
    const ip = `${prefix}10`;
    const first = await running('first', { network: { name: network, ipv4: ip } });
    assert.deepEqual((await engine.inspectContainer(first))?.networks, { [network]: ip });
    assert.ok((await engine.addressesInUse(network)).has(ip));

    const second = await engine.createContainer(spec('second', { network: { name: network, ipv4: ip } }));
    await assert.rejects(engine.startContainer(second), (error: unknown) => {
      assert.ok(error instanceof EngineError, String(error));
      assert.match(error.message, /already allocated/);
      return true;
    });

    await engine.stopContainer(first, 0);
    const stopped = await engine.inspectContainer(first);
    assert.equal(stopped?.running, false);
    assert.deepEqual(stopped?.networks, {}, 'podman shows no address once stopped');
    assert.deepEqual(stopped?.requestedIps, { [network]: ip });
    assert.equal(
      stopped?.labels['dev.molt.requested-ipv4.' + network],
      undefined,
      'the bookkeeping label stays hidden',
    );
    assert.ok((await engine.addressesInUse(network)).has(ip), 'a stopped container still claims its address');

    await engine.startContainer(second);
    assert.deepEqual((await engine.inspectContainer(second))?.networks, { [network]: ip });
    await engine.removeContainer(first);
    await engine.removeContainer(second);
    assert.equal((await engine.addressesInUse(network)).has(ip), false);
  });

  it('addressesInUse includes addresses the engine assigned, and nothing from other networks', async () => {
    const id = await running('dynamic');
    const assigned = (await engine.inspectContainer(id))?.networks[network];
    assert.ok(assigned !== undefined && assigned.startsWith(prefix), String(assigned));
    const inUse = await engine.addressesInUse(network);
    assert.ok(inUse.has(assigned));
    assert.deepEqual(
      [...inUse].filter((ip) => !ip.startsWith(prefix)),
      [],
    );
    await engine.removeContainer(id);
  });
});

describe('volumes', () => {
  it('creates, finds and removes a volume; removing a missing one is fine, one in use is refused', async () => {
    const name = h.name('vol');
    assert.equal(await engine.volumeExists(name), false);
    await engine.createVolume(name, { 'dev.molt.app': 'x' });
    await engine.createVolume(name, { 'dev.molt.app': 'x' });
    assert.equal(await engine.volumeExists(name), true);
    const id = await running('vol-user', {
      mounts: [{ type: 'volume', source: name, destination: '/data', readOnly: false }],
    });
    await assert.rejects(engine.removeVolume(name), (e: unknown) => e instanceof EngineError && e.status === 409);
    await engine.exec(id, ['sh', '-c', 'echo kept > /data/file']);
    const before = await volumeChecksum(h, name);
    await engine.removeContainer(id);
    assert.equal(await volumeChecksum(h, name), before, 'removing the container keeps the volume data');
    await engine.removeVolume(name);
    await engine.removeVolume(name);
    assert.equal(await engine.volumeExists(name), false);
  });
});

describe('containers', () => {
  it('start, stop, rename and remove can each be repeated without error', async () => {
    const id = await engine.createContainer(spec('life'));
    await engine.startContainer(id);
    await engine.startContainer(id);
    assert.equal((await engine.inspectContainer(id))?.running, true);
    await engine.stopContainer(id, 0);
    await engine.stopContainer(id, 0);
    const stopped = await engine.inspectContainer(id);
    assert.equal(stopped?.running, false);
    assert.equal(stopped?.status, 'exited');
    const renamed = h.name('life-old');
    await engine.renameContainer(id, renamed);
    await engine.renameContainer(id, renamed);
    assert.equal((await engine.inspectContainer(renamed))?.id, id);
    await engine.removeContainer(id);
    await engine.removeContainer(id);
    assert.equal(await engine.inspectContainer(id), undefined);
  });

  it('renaming onto a name in use is an EngineError', async () => {
    const a = await engine.createContainer(spec('ren-a'));
    const b = await engine.createContainer(spec('ren-b'));
    await assert.rejects(engine.renameContainer(a, h.name('ren-b')), EngineError);
    await engine.removeContainer(a);
    await engine.removeContainer(b);
  });

  it('starting or stopping a missing container is an EngineError with the engine message', async () => {
    await assert.rejects(
      engine.startContainer(h.name('ghost')),
      (e: unknown) => e instanceof EngineError && e.status === 404 && /no such container/i.test(e.message),
    );
    await assert.rejects(
      engine.stopContainer(h.name('ghost'), 1),
      (e: unknown) => e instanceof EngineError && e.status === 404,
    );
  });

  it('creating from a missing image is ImageUnavailableError', async () => {
    await assert.rejects(
      engine.createContainer(spec('noimage', { image: 'localhost/molt-test/none:1' })),
      ImageUnavailableError,
    );
  });

  it('inspectContainer reports image, env, labels, mounts and exit code', async () => {
    const vol = h.name('mnt');
    await engine.createVolume(vol, {});
    const id = await engine.createContainer(
      spec('inspect', {
        cmd: ['sh', '-c', 'exit 7'],
        mounts: [
          { type: 'volume', source: vol, destination: '/data', readOnly: false },
          { type: 'bind', source: h.dir, destination: '/host', readOnly: true },
          { type: 'tmpfs', source: '', destination: '/scratch', readOnly: false },
        ],
      }),
    );
    await engine.startContainer(id);
    let observed = await engine.inspectContainer(id);
    for (let i = 0; i < 100 && observed?.running; i++) observed = await engine.inspectContainer(id);
    assert.ok(observed);
    assert.equal(observed.name, h.name('inspect'));
    assert.equal(observed.image, IMAGE);
    assert.equal(observed.imageId, (await engine.inspectImage(IMAGE))?.id);
    assert.equal(observed.exitCode, 7);
    assert.equal(observed.oomKilled, false);
    assert.ok(observed.env.includes('MOLT_TEST=1'));
    assert.equal(observed.labels['test.case'], 'inspect');
    assert.equal(observed.labels['org.example.flavour'], 'plain', 'image labels show on the container');
    assert.deepEqual(observed.mounts, [
      { type: 'volume', source: vol, destination: '/data', readOnly: false },
      { type: 'bind', source: h.dir, destination: '/host', readOnly: true },
      { type: 'tmpfs', source: '', destination: '/scratch', readOnly: false },
    ]);
    await engine.removeContainer(id);
    await engine.removeVolume(vol);
  });

  it("uses the image's cmd when the spec has none; an entrypoint without cmd drops the image's cmd", async () => {
    const plain = await engine.createContainer(spec('cmd-default'));
    const plainSeen = await engine.inspectContainer(plain);
    assert.deepEqual([plainSeen?.entrypoint, plainSeen?.cmd], [undefined, ['sleep', '1000']]);
    const entry = await engine.createContainer(spec('cmd-entry', { entrypoint: ['/bin/echo'] }));
    const entrySeen = await engine.inspectContainer(entry);
    assert.deepEqual([entrySeen?.entrypoint, entrySeen?.cmd], [['/bin/echo'], undefined]);
    const both = await engine.createContainer(spec('cmd-both', { entrypoint: ['/bin/echo'], cmd: ['hi'] }));
    await engine.startContainer(both);
    for (let i = 0; i < 100 && (await engine.inspectContainer(both))?.running; i++);
    assert.equal(await engine.logs(both, 10), 'hi\n');
    for (const id of [plain, entry, both]) await engine.removeContainer(id);
  });

  it('listContainers finds containers by label, running or not', async () => {
    const label = `test.list=${h.id}`;
    const a = await running('list-a', { labels: { 'test.list': h.id } });
    const b = await engine.createContainer(spec('list-b', { labels: { 'test.list': h.id } }));
    const found = await engine.listContainers([label]);
    assert.deepEqual(found.map((c) => c.id).sort(), [a, b].sort());
    assert.deepEqual(await engine.listContainers([label, 'test.other']), []);
    await engine.removeContainer(a);
    await engine.removeContainer(b);
  });
});

describe('exec and logs', () => {
  let id: string;
  before(async () => {
    id = await running('exec');
  });
  after(async () => {
    await engine.removeContainer(id);
  });

  it('returns the exit code and keeps stdout and stderr apart', async () => {
    const result = await engine.exec(id, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual(result, { exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
    assert.equal((await engine.exec(id, ['true'])).exitCode, 0);
  });

  it("an exec leaves no conmon behind for long (molt's containers.conf: exit_command_delay, not Podman's 300 s)", async () => {
    const full = (await engine.inspectContainer(id))!.id;
    const execConmons = () =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            const args = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
            return args.includes('--exec-attach') && args.includes(full);
          } catch {
            return false; // the process ended while we looked
          }
        }).length;
    for (let i = 0; i < 3; i++) assert.equal((await engine.exec(id, ['true'])).exitCode, 0);
    assert.ok(execConmons() > 0, 'each exec has its conmon while the session is kept');
    let left = execConmons();
    for (let waited = 0; left > 0 && waited < 60; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      left = execConmons();
    }
    assert.equal(
      left,
      0,
      "the exec sessions' conmons are gone within a minute (Podman's default keeps them 5 minutes)",
    );
    assert.deepEqual(
      await engine.exec(id, ['sh', '-c', 'exit 4']),
      { exitCode: 4, stdout: '', stderr: '' },
      'exit codes are still read',
    );
  });

  it('carries large output on both streams intact (> 64 KiB), read whole or streamed live', async () => {
    const cmd = [
      'sh',
      '-c',
      'i=0; while [ $i -lt 3000 ]; do echo "line $i of stdout padded to be long enough........"; echo "e$i" >&2; i=$((i+1)); done',
    ];
    // Without onOutput the answer is read whole (over a unix socket without node:http); with it, streamed.
    const result = await engine.exec(id, cmd);
    let live = 0;
    assert.deepEqual(await engine.exec(id, cmd, { onOutput: (_, chunk) => (live += chunk.length) }), result);
    assert.equal(live, result.stdout.length + result.stderr.length);
    const lines = result.stdout.split('\n');
    assert.equal(lines.length, 3001);
    assert.equal(lines[2999], 'line 2999 of stdout padded to be long enough........');
    assert.ok(result.stdout.length > 64 * 1024, String(result.stdout.length));
    assert.equal(result.stderr.split('\n')[2999], 'e2999');
  });

  it('streams output as it arrives', async () => {
    const seen: Array<[string, string, number]> = [];
    const started = Date.now();
    await engine.exec(id, ['sh', '-c', 'echo first; sleep 1; echo second >&2'], {
      onOutput: (stream, chunk) => seen.push([stream, chunk, Date.now() - started]),
    });
    assert.deepEqual(
      seen.map(([s, c]) => [s, c]),
      [
        ['stdout', 'first\n'],
        ['stderr', 'second\n'],
      ],
    );
    assert.ok(seen[0]![2] < seen[1]![2] - 500, 'the first chunk came before the command finished');
  });

  it('runs as the given user with extra environment', async () => {
    const result = await engine.exec(id, ['sh', '-c', 'id -u; echo $GREETING'], { user: 'app', env: ['GREETING=hi'] });
    assert.deepEqual(result, { exitCode: 0, stdout: '1000\nhi\n', stderr: '' });
  });

  it('reports a command that does not exist as a non-zero exit code', async () => {
    const result = await engine.exec(id, ['/no/such/binary']);
    assert.notEqual(result.exitCode, 0);
  });

  it('stops waiting when the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('enough')), 300);
    await assert.rejects(engine.exec(id, ['sleep', '30'], { signal: controller.signal }), /enough/);
    assert.ok(Date.now() - started < 5_000);
  });

  it('exec in a stopped container is an EngineError', async () => {
    const stopped = await engine.createContainer(spec('exec-stopped'));
    await assert.rejects(engine.exec(stopped, ['true']), EngineError);
    await engine.removeContainer(stopped);
  });

  it('logs returns the last lines of stdout and stderr interleaved', async () => {
    const talker = await running('logs', {
      cmd: ['sh', '-c', 'echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; sleep 1000'],
    });
    let text = '';
    for (let i = 0; i < 50 && !text.includes('three'); i++) {
      text = await engine.logs(talker, 2);
      if (!text.includes('three')) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(text, 'two\nthree\n');
    await engine.removeContainer(talker);
  });
});

describe('archives', () => {
  it('putArchive then getArchive round-trips files, also into a stopped container', async () => {
    const id = await engine.createContainer(spec('archive'));
    const pack = tar.pack();
    pack.entry({ name: 'scripts/pre-upgrade.sh', mode: 0o755 }, '#!/bin/sh\necho pre\n');
    pack.entry({ name: 'scripts/data.bin' }, Buffer.alloc(100_000, 7));
    pack.finalize();
    await engine.putArchive(id, '/tmp', Readable.from(pack));
    const files = new Map<string, { mode: number; data: Buffer }>();
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        files.set(header.name, { mode: header.mode ?? 0, data: Buffer.concat(chunks) });
        next();
      });
    });
    (await engine.getArchive(id, '/tmp/scripts')).pipe(extract);
    await new Promise<void>((resolve, reject) => extract.on('finish', () => resolve()).on('error', reject));
    assert.equal(files.get('scripts/pre-upgrade.sh')?.data.toString(), '#!/bin/sh\necho pre\n');
    assert.equal((files.get('scripts/pre-upgrade.sh')?.mode ?? 0) & 0o777, 0o755);
    assert.deepEqual(files.get('scripts/data.bin')?.data, Buffer.alloc(100_000, 7));
    await engine.startContainer(id);
    assert.equal((await engine.exec(id, ['/tmp/scripts/pre-upgrade.sh'])).stdout, 'pre\n');
    await engine.removeContainer(id);
  });

  it('getArchive of a missing path is an EngineError 404', async () => {
    const id = await engine.createContainer(spec('archive-missing'));
    await assert.rejects(
      engine.getArchive(id, '/no/such/path'),
      (e: unknown) => e instanceof EngineError && e.status === 404,
    );
    await engine.removeContainer(id);
  });
});

describe('an engine that is not there', () => {
  it('is EngineUnavailableError, naming the socket', async () => {
    const missing = new DockerEngine({ socketPath: `${h.dir}/nothing.sock` });
    await assert.rejects(
      missing.ping(),
      (e: unknown) => e instanceof EngineUnavailableError && e.message.includes('nothing.sock') && e.retryable,
    );
    await assert.rejects(missing.inspectContainer('x'), EngineUnavailableError);
  });
});

describe('discoverEngine', () => {
  const quiet = (): void => {};

  it('uses an explicit --engine that answers, as a unix:// URL or a plain path', async () => {
    for (const value of [`unix://${h.socket}`, h.socket]) {
      const { engine: found, startedService } = await discoverEngine({
        engine: value,
        moltHome: join(h.dir, 'unused-home'),
        log: quiet,
      });
      assert.equal(found.socketPath, h.socket);
      assert.match(found.description, /^podman 4\.\d+\.\d+ at /);
      assert.equal(startedService, undefined);
    }
  });

  it('takes CONTAINER_HOST before DOCKER_HOST and the well-known sockets', async () => {
    const env = {
      PATH: process.env.PATH,
      CONTAINER_HOST: `unix://${h.socket}`,
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    };
    const { engine: found } = await discoverEngine({
      moltHome: join(h.dir, 'unused-home'),
      log: quiet,
      env,
      sockets: ['/nonexistent/a.sock'],
    });
    assert.equal(found.socketPath, h.socket);
  });

  it('skips a DOCKER_HOST of an unsupported scheme with a clear message and goes on', async () => {
    const lines: string[] = [];
    const env = { PATH: process.env.PATH, DOCKER_HOST: 'ssh://user@localhost' };
    const { engine: found } = await discoverEngine({
      moltHome: join(h.dir, 'unused-home'),
      log: (l) => lines.push(l),
      env,
      sockets: [h.socket],
    });
    assert.equal(found.socketPath, h.socket);
    assert.match(lines.join('\n'), /DOCKER_HOST=ssh:\/\/user@localhost: ssh:\/\/ engines are not supported yet/);
  });

  it('passes over a tcp:// DOCKER_HOST that does not answer and goes on', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const env = { PATH: process.env.PATH, DOCKER_HOST: 'tcp://127.0.0.1:1' };
    const { engine: found } = await discoverEngine({
      moltHome: join(h.dir, 'unused-home'),
      log: quiet,
      env,
      sockets: [h.socket],
    });
    assert.equal(found.socketPath, h.socket);
  });

  it('fails on an explicit --engine that does not answer instead of picking another engine', async () => {
    const env = { PATH: process.env.PATH, CONTAINER_HOST: `unix://${h.socket}` };
    await assert.rejects(
      discoverEngine({
        engine: 'unix:///nonexistent/molt.sock',
        moltHome: join(h.dir, 'unused-home'),
        log: quiet,
        env,
      }),
      (e: unknown) => {
        assert.ok(e instanceof EngineUnavailableError, String(e));
        assert.match(e.message, /--engine unix:\/\/\/nonexistent\/molt\.sock: no such socket/);
        return true;
      },
    );
    await assert.rejects(
      discoverEngine({ engine: 'tcp://127.0.0.1:1', moltHome: join(h.dir, 'unused-home'), log: quiet, env }),
      (e: unknown) => {
        assert.ok(e instanceof EngineUnavailableError, String(e));
        assert.match(e.message, /--engine tcp:\/\/127\.0\.0\.1:1/);
        return true;
      },
    );
  });

  it('lists every place it tried when nothing answers and podman is not on PATH', async () => {
    const home = join(h.dir, 'no-podman-home');
    const env = {
      PATH: '/nonexistent',
      CONTAINER_HOST: 'unix:///nonexistent/c.sock',
      DOCKER_HOST: 'unix:///nonexistent/d.sock',
      XDG_RUNTIME_DIR: '/nonexistent/xdg',
    };
    await assert.rejects(
      discoverEngine({ moltHome: home, log: quiet, env, sockets: wellKnownSockets(env).filter((s) => !existsSync(s)) }),
      (e: unknown) => {
        assert.ok(e instanceof EngineUnavailableError, String(e));
        for (const place of [
          '/nonexistent/c.sock',
          '/nonexistent/d.sock',
          '/nonexistent/xdg/podman/podman.sock',
          `${home}/podman.sock`,
        ]) {
          assert.ok(e.message.includes(place), `${place} in: ${e.message}`);
        }
        assert.match(e.message, /podman is not on PATH/);
        return true;
      },
    );
  });

  it('starts its own podman service when none answers (once, also when two discover at the same time), and reuses it the next time', async () => {
    const home = join(h.dir, 'molt-home');
    const storage = join(h.dir, 'discovered');
    const podmanArgs = [
      '--root',
      join(storage, 'root'),
      '--runroot',
      join(storage, 'runroot'),
      '--tmpdir',
      join(storage, 'tmp'),
      '--network-config-dir',
      join(storage, 'net'),
    ];
    const env = { PATH: process.env.PATH, XDG_RUNTIME_DIR: join(h.dir, 'fake-xdg') };
    const lines: string[] = [];
    const options = {
      moltHome: home,
      log: (l: string) => lines.push(l),
      env,
      podmanArgs,
      sockets: wellKnownSockets(env).filter((s) => !existsSync(s)),
    };
    let pid: number | undefined;
    try {
      const [one, two] = await Promise.all([discoverEngine(options), discoverEngine(options)]);
      const first = one.startedService?.reused === false ? one : two;
      const racer = first === one ? two : one;
      pid = first.startedService?.pid;
      assert.deepEqual(
        racer.startedService,
        { pid, socket: join(home, 'podman.sock'), reused: true },
        'a concurrent discovery waits for the same service',
      );
      const services = readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8')
              .split('\0')
              .includes(`unix://${join(home, 'podman.sock')}`);
          } catch {
            return false;
          }
        });
      assert.deepEqual(services, [String(pid)], 'exactly one service runs');
      assert.ok(pid !== undefined);
      assert.equal(first.startedService?.reused, false);
      assert.equal(first.startedService?.socket, join(home, 'podman.sock'));
      assert.equal(first.engine.socketPath, join(home, 'podman.sock'));
      await first.engine.ping();
      assert.equal(statSync(home).mode & 0o777, 0o700);
      assert.equal(statSync(join(home, 'podman.sock')).mode & 0o777, 0o600);
      assert.equal(readFileSync(join(home, 'podman-service.pid'), 'utf8').trim(), String(pid));
      assert.match(
        readFileSync(join(home, 'containers.conf'), 'utf8'),
        /default_ulimits = \["nofile=1024:1024", "nproc=1024:1024"\]/,
      );
      assert.match(lines.join('\n'), new RegExp(`started a podman service \\(pid ${pid}\\)`));

      const second = await discoverEngine(options);
      assert.deepEqual(second.startedService, { pid, socket: join(home, 'podman.sock'), reused: true });
    } finally {
      await reapDir(storage, pid);
      await reapDir(home);
    }
    const state =
      pid === undefined
        ? 'none'
        : existsSync(`/proc/${pid}`)
          ? /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
          : 'gone';
    assert.ok(state === 'gone' || state === 'Z', `the service is gone (state ${state})`);
  });
});

describe('the harness', () => {
  it('stop() leaves no process, mount, bridge or directory behind, even after an exec', async () => {
    const other = await startPodman();
    const net = other.name('n');
    const lingering = (): string[] =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(other.dir);
          } catch {
            return false;
          }
        });
    try {
      await buildTestImage(other, { tag: 'localhost/molt-test/other:1', cmd: ['sleep', '1000'] });
      await other.engine.createNetwork(net, other.freeSubnet());
      const id = await other.engine.createContainer({
        ...spec('other'),
        image: 'localhost/molt-test/other:1',
        network: { name: net, ipv4: '' },
      });
      await other.engine.startContainer(id);
      assert.equal((await other.engine.exec(id, ['true'])).exitCode, 0);
      assert.ok(lingering().length > 0, 'podman, conmon and the container run');
    } finally {
      await other.stop();
    }
    assert.equal(existsSync(other.dir), false);
    assert.deepEqual(lingering(), []);
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(other.dir), false);
    assert.throws(() => execFileSync('ip', ['link', 'show', bridgeName(net)], { stdio: 'ignore' }));
    await other.stop();
  });

  it('freeSubnet hands out distinct /24s of 10.90.0.0/16, never 10.90.0.0/24', () => {
    const taken = Array.from({ length: 5 }, () => h.freeSubnet());
    assert.equal(new Set(taken).size, 5);
    for (const s of [...taken, subnet]) assert.match(s, /^10\.90\.([1-9]|[1-9]\d|1\d\d|2[0-4]\d|25[0-4])\.0\/24$/);
    assert.equal(taken.includes(subnet), false);
  });
});
