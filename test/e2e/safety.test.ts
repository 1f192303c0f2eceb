/**
 * What molt keeps is its user's alone, and secrets stay where they were put: the molt home
 * is 0700 and the store, its journal files, the Podman socket molt starts and that
 * service's containers.conf are owner-only, even under umask 000; env values given in a
 * manifest never show in molt's progress, messages or history (they may in `get app -o
 * json`'s spec, as kubectl shows env).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { discoverEngine, wellKnownSockets } from '../../src/engines/docker/discover.ts';
import { reapDir, run, startPodman, type PodmanHarness, type RunResult } from './harness.ts';
import { harnessWaitMs, moltLimitMs } from '../command-limit.ts';
import { appDoc, buildApp, molt, moltEnv, moltProcessEnv, writeManifest, type MoltEnv } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const REPO = 'localhost/e2e-safety';
const MOLT = new URL('../../bin/molt', import.meta.url).pathname;

before(async () => {
  h = await startPodman();
  m = moltEnv(h);
  net = h.name('net');
  subnet = h.freeSubnet();
  await Promise.all([
    buildApp(h, REPO, '1.0.0-1'),
    buildApp(h, REPO, '1.1.0-1'),
    buildApp(h, REPO, '1.2.0-1', { EXIT_AT_START: 'bad config' }),
  ]);
});
after(async () => h?.stop());

/** Permission bits of a path. */
const mode = (path: string): number => lstatSync(path).mode & 0o777;

/** Every path below `dir` (itself included) that its group or others may use, with its mode. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const walk = (path: string): void => {
    if ((mode(path) & 0o077) !== 0) found.push(`${path} ${mode(path).toString(8)}`);
    if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return found;
}

/** Runs `molt ARGS` under `umask 000`, with `home` as molt home. */
function moltUnderOpenUmask(home: string, args: string[]): Promise<RunResult> {
  const limitMs = moltLimitMs(args);
  return run(
    'sh',
    ['-c', 'umask 000 && exec "$0" "$@"', MOLT, ...args],
    moltProcessEnv({ ...m, home }),
    undefined,
    harnessWaitMs(limitMs, 180_000),
    { limitMs },
  );
}

/** Installs and upgrades `name` under umask 000 with a fresh home; the home. */
async function upgradedUnderOpenUmask(name: string): Promise<string> {
  const home = join(m.dir, `${name}-home`);
  for (const version of ['1.0.0-1', '1.1.0-1']) {
    const file = writeManifest(
      m,
      `${name}-${version}.yaml`,
      appDoc({ name, version, image: `${REPO}:${version}`, network: net, subnet }),
    );
    const r = await moltUnderOpenUmask(home, ['apply', '-f', file]);
    assert.equal(r.code, 0, r.stderr);
  }
  return home;
}

describe("molt's files are owner-only", () => {
  test('the home is 0700 and state.db with its WAL and SHM files 0600, even under umask 000', async () => {
    const home = await upgradedUnderOpenUmask('perm');
    assert.equal(mode(home), 0o700);
    assert.equal(mode(join(home, 'state.db')), 0o600);
    for (const journal of ['state.db-wal', 'state.db-shm']) {
      if (existsSync(join(home, journal))) assert.equal(mode(join(home, journal)), 0o600, journal);
    }
  });

  test('volume snapshots and everything else under the home are owner-only, even under umask 000', async () => {
    const home = await upgradedUnderOpenUmask('snap');
    assert.ok(existsSync(join(home, 'snapshots')), 'the upgrade took volume snapshots');
    assert.deepEqual(openToOthers(home), [], 'nothing under the home is open to group or others');
  });

  test('a home that exists open to others is closed to 0700', async () => {
    const home = join(m.dir, 'open-home');
    mkdirSync(home, { mode: 0o755 });
    const r = await moltUnderOpenUmask(home, ['get', 'apps']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(mode(home), 0o700);
    assert.deepEqual(openToOthers(home), []);
  });

  test('the podman service molt starts: socket, containers.conf, pid file and log owner-only, even under umask 000', async () => {
    const home = join(h.dir, 'service-home');
    const storage = join(h.dir, 'service-storage');
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
    const env = { PATH: process.env.PATH, XDG_RUNTIME_DIR: join(h.dir, 'no-xdg') };
    const umask = process.umask(0);
    let pid: number | undefined;
    try {
      const found = await discoverEngine({
        moltHome: home,
        log: () => {},
        env,
        podmanArgs,
        sockets: wellKnownSockets(env).filter((s) => !existsSync(s)),
      });
      pid = found.startedService?.pid;
      assert.equal(found.startedService?.reused, false, 'molt started the service');
      await found.engine.ping();
      assert.equal(mode(home), 0o700);
      assert.equal(mode(join(home, 'podman.sock')), 0o600);
      assert.ok(lstatSync(join(home, 'podman.sock')).isSocket());
      for (const name of ['containers.conf', 'podman-service.pid', 'podman-service.log'])
        assert.equal(mode(join(home, name)), 0o600, name);
      assert.deepEqual(openToOthers(home), [], 'nothing under the home is open to group or others');
    } finally {
      process.umask(umask);
      await reapDir(storage, pid);
      await reapDir(home);
    }
  });
});

describe('secret env values never show outside the spec', () => {
  const SECRET = 'hunter2-4f9c1a';
  const ROTATED = 'hunter3-77b2e0';
  const doc = (version: string, password: string) => {
    const d = appDoc({ name: 'vault', version, image: `${REPO}:${version}`, network: net, subnet }) as {
      spec: Record<string, unknown>;
    };
    d.spec.env = { DB_PASSWORD: password, API_TOKEN: `token-${password}`, PLAIN: 'visible' };
    return writeManifest(m, `vault-${version}-${password}.yaml`, d);
  };
  const outputs: Array<{ command: string; text: string }> = [];
  const record = async (command: string, args: string[]): Promise<RunResult> => {
    const r = await molt(m, args);
    outputs.push({ command, text: r.stdout + r.stderr });
    return r;
  };

  test('install, plan, upgrade, a failed upgrade and a secret rotation print no secret', async () => {
    assert.equal((await record('apply (install)', ['apply', '-f', doc('1.0.0-1', SECRET)])).code, 0);
    assert.equal((await record('plan (upgrade)', ['plan', '-f', doc('1.1.0-1', SECRET)])).code, 2);
    assert.equal((await record('apply (upgrade)', ['apply', '-f', doc('1.1.0-1', SECRET)])).code, 0);
    const failed = await record('apply (failing upgrade)', ['apply', '-f', doc('1.2.0-1', SECRET)]);
    assert.equal(failed.code, 1, 'the failing upgrade is rolled back');
    assert.match(failed.stderr, /error\[ContainerExited\]/);
    assert.equal((await record('plan (rotation)', ['plan', '-f', doc('1.1.0-1', ROTATED)])).code, 2);
    assert.equal((await record('apply (rotation)', ['apply', '-f', doc('1.1.0-1', ROTATED)])).code, 0);
    assert.equal((await record('rollback', ['rollback', 'vault'])).code, 0);
    assertNoSecret();
  });

  test('history in every format and get apps tables show no secret', async () => {
    for (const args of [
      ['history', 'vault'],
      ['history', 'vault', '-o', 'json'],
      ['history', 'vault', '-o', 'yaml'],
      ['get', 'apps'],
      ['get', 'apps', '-o', 'wide'],
    ]) {
      const r = await record(args.join(' '), args);
      assert.equal(r.code, 0, r.stderr);
    }
    assertNoSecret();
  });

  test('get app -o json shows the env in the spec only, never in the status', async () => {
    const r = await molt(m, ['get', 'app', 'vault', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const app = JSON.parse(r.stdout) as { spec: { env: Record<string, string> }; status: unknown };
    assert.equal(app.spec.env.PLAIN, 'visible');
    const rest = JSON.stringify({ ...app, spec: { ...app.spec, env: undefined } });
    assert.ok(!rest.includes(SECRET) && !rest.includes(ROTATED), `no secret outside spec.env: ${rest}`);
  });

  function assertNoSecret(): void {
    assert.ok(outputs.length > 0);
    for (const { command, text } of outputs) {
      for (const secret of [SECRET, ROTATED])
        assert.ok(!text.includes(secret), `\`molt ${command}\` printed a secret value:\n${text}`);
    }
  }
});
