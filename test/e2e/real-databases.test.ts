/**
 * The real-database examples on real Podman, run from their own manifests (examples/postgres,
 * examples/valkey; only the app name, network, IP and host port are changed so the file can
 * run beside others): PostgreSQL 15 (Debian bookworm) upgraded across a major version to 17
 * (trixie) by dump and restore, and Redis (bookworm) replaced by Valkey (trixie). Data is
 * written and read by the servers' own clients (psql, redis-cli) from another container on
 * the app's network over the app's IP, and through the published port on 127.0.0.1.
 *
 * The images come from Debian packages (debootstrap) through the rootfs cache
 * (src/examples/debian-rootfs.ts): a cold cache adds about 3-4 minutes to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { buildExampleImages, EXAMPLE_IMAGES } from '../../src/examples/databases.ts';
import { run, type RunResult } from './harness.ts';
import { moltProcessEnv, startTestbed, writeManifest, type Testbed } from './molt-cli.ts';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
const MOLT = new URL('../../bin/molt', import.meta.url).pathname;
const PASSWORD = 'correct horse battery staple';
const PG15 = EXAMPLE_IMAGES['postgres:15'].tag;

let tb: Testbed;
let client: string;
const started = Date.now();

before(async () => {
  tb = await startTestbed();
  const report = await buildExampleImages(
    (args) => tb.h.podman(args, { timeoutMs: 600_000 }),
    ['postgres:15', 'postgres:17', 'redis:7.0', 'valkey:8.1'],
    { log: (line) => console.log(`# ${line}`) },
  );
  for (const r of report.rootfs)
    console.log(
      `# ${r.suite} rootfs: ${r.cached ? 'cached' : 'built'} (cold build ${r.buildSeconds} s, ${(r.bytes / 2 ** 20).toFixed(0)} MiB)`,
    );
  console.log(
    `# images: rootfs ${report.rootfsSeconds.toFixed(1)} s, import ${report.importSeconds.toFixed(1)} s, layers ${report.layerSeconds.toFixed(1)} s`,
  );
  writeFileSync(join(tb.m.dir, 'pgpass.txt'), PASSWORD, { mode: 0o600 });
});
after(async () => {
  await tb?.h.stop();
  console.log(`# real-databases: ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
});

/** The example's manifest with this test's app name, network, IP and host port. */
function example(file: string, o: { name: string; host: number; port: number; env?: Record<string, string> }): string {
  const doc = parse(readFileSync(join(EXAMPLES, file), 'utf8'));
  doc.metadata.name = o.name;
  doc.spec.volumes = doc.spec.volumes.map((v: { name: string }) => ({ ...v, name: `${o.name}-data` }));
  doc.spec.network = { name: tb.net, subnet: tb.subnet, ipv4: ip(o.host) };
  doc.spec.ports = [`127.0.0.1:${o.port}:${doc.spec.ports[0].split(':').at(-1)}`];
  if (o.env) doc.spec.env = { ...doc.spec.env, ...o.env };
  return writeManifest(tb.m, `${o.name}-${basename(file)}`, doc);
}

const ip = (host: number) => tb.subnet.replace(/\.0\/24$/, `.${host}`);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** bin/molt with this file's Podman and home; dump and restore on a loaded 2-core machine can take minutes. */
function molt(args: string[]): Promise<RunResult> {
  return run(MOLT, args, moltProcessEnv(tb.m), undefined, 660_000);
}

async function apply(file: string): Promise<RunResult> {
  return molt(['apply', '-f', file, '--timeout', '10m']);
}

/** A client container on the apps' network (psql 15 and redis-cli 7.0 from the bookworm image). */
async function ensureClient(): Promise<void> {
  if (client) return;
  client = tb.h.name('client');
  const r = await tb.h.podman(['run', '-d', '--name', client, '--network', tb.net, PG15, 'sleep', 'infinity']);
  assert.equal(r.code, 0, r.stderr);
}

function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r.stdout.trim();
}

/** psql in the client container against `host` (the app's IP). */
async function psql(
  host: string,
  sql: string,
  o: { db?: string; user?: string; password?: string } = {},
): Promise<RunResult> {
  return tb.h.podman([
    'exec',
    '-e',
    `PGPASSWORD=${o.password ?? PASSWORD}`,
    client,
    'psql',
    '-X',
    '-At',
    '-v',
    'ON_ERROR_STOP=1',
    '-h',
    host,
    '-U',
    o.user ?? 'postgres',
    '-d',
    o.db ?? 'postgres',
    '-c',
    sql,
  ]);
}

/** psql on the host's network namespace through the published port on 127.0.0.1. */
async function psqlPublished(port: number, sql: string): Promise<string> {
  return ok(
    await tb.h.podman([
      'run',
      '--rm',
      '--network',
      'host',
      '-e',
      `PGPASSWORD=${PASSWORD}`,
      PG15,
      'psql',
      '-X',
      '-At',
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'postgres',
      '-c',
      sql,
    ]),
    `psql 127.0.0.1:${port}`,
  );
}

async function redisCli(host: string, ...args: string[]): Promise<string> {
  return ok(await tb.h.podman(['exec', client, 'redis-cli', '-h', host, ...args]), `redis-cli ${args.join(' ')}`);
}

async function inContainer(app: string, cmd: string[]): Promise<RunResult> {
  return tb.h.podman(['exec', app, ...cmd]);
}

async function appIp(app: string): Promise<string | undefined> {
  return (await tb.h.engine.inspectContainer(app))?.networks[tb.net];
}

/** What a shop database holds, as psql prints it: rows, quantity sum, the role's login. */
async function shop(host: string): Promise<string> {
  return ok(
    await psql(host, 'SELECT count(*), sum(qty) FROM orders', {
      db: 'shop',
      user: 'shopkeeper',
      password: 'kept-across-upgrades',
    }),
    'read shop',
  );
}

async function installShop(name: string, host: number, port: number): Promise<string> {
  const r = await apply(example('postgres/pg15.yaml', { name, host, port }));
  assert.equal(r.code, 0, r.stderr);
  await ensureClient();
  const at = ip(host);
  ok(await psql(at, 'CREATE DATABASE shop'), 'create database');
  ok(await psql(at, "CREATE ROLE shopkeeper LOGIN PASSWORD 'kept-across-upgrades'"), 'create role');
  ok(
    await psql(
      at,
      'CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, qty int NOT NULL, placed timestamptz DEFAULT now()); ' +
        "INSERT INTO orders (item, qty) SELECT 'item-' || i, i % 7 + 1 FROM generate_series(1, 5000) i; " +
        'CREATE INDEX orders_item ON orders (item); GRANT ALL ON orders, orders_id_seq TO shopkeeper',
      { db: 'shop' },
    ),
    'fill shop',
  );
  return at;
}

describe('PostgreSQL 15 → 17 across a major version (examples/postgres)', () => {
  const name = 'postgres';
  let port: number;
  let at: string;
  let before15: string;

  test('pg15.yaml installs PostgreSQL 15: psql in another container writes over the app IP; the published port, shmSize and secret are in effect', async () => {
    port = await freePort();
    at = await installShop(name, 15, port);
    assert.match(ok(await psql(at, 'SELECT version()'), 'version'), /^PostgreSQL 15\./);
    before15 = await shop(at);
    assert.equal(before15, '5000|19997');
    assert.equal(await psqlPublished(port, "SELECT count(*) FROM pg_database WHERE datname = 'shop'"), '1');
    assert.match(ok(await inContainer(name, ['df', '-k', '/dev/shm']), 'df'), /\n\S+\s+262144\s/, 'shmSize 256Mi');
    const secret = ok(await inContainer(name, ['stat', '-c', '%a %U', '/run/secrets/pgpass']), 'stat secret');
    assert.equal(secret, '400 root');
  });

  test('pg17.yaml upgrades it: dump in the running 15, restore behind the startup gate; 17 answers with the same rows, roles and passwords over the same IP and port', async () => {
    const plan = await molt(['plan', '-f', example('postgres/pg17.yaml', { name, host: 15, port })]);
    assert.equal(plan.code, 2, plan.stderr);
    assert.match(
      plan.stdout,
      /PreUpgrade\s+run the pre-upgrade script, if any, in the running 15\.0\.0-1 container with \(15\.0\.0-1, 17\.0\.0-1\)/,
    );
    assert.match(plan.stdout, /NOTICE from 17\.0\.0-1:\n\s+PostgreSQL 17 cannot read a PostgreSQL 15 data directory/);
    const t0 = Date.now();
    const r = await apply(example('postgres/pg17.yaml', { name, host: 15, port }));
    assert.equal(r.code, 0, r.stderr);
    console.log(`# postgres 15 → 17 upgrade: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.match(r.stderr, /NOTICE from 17\.0\.0-1:\s+PostgreSQL 17 cannot read a PostgreSQL 15 data directory/);
    assert.match(r.stderr, /pre-upgrade \| PostgreSQL 15\.0\.0-1 -> 17\.0\.0-1: dumping/);
    assert.match(
      r.stderr,
      /post-upgrade \| restoring \/var\/lib\/postgresql\/upgrade\/15\.0\.0-1-to-17\.0\.0-1\.sql into PostgreSQL 17\./,
    );
    assert.equal(await appIp(name), at, 'same IP');
    assert.match(ok(await psql(at, 'SELECT version()'), 'version'), /^PostgreSQL 17\./);
    assert.equal(await shop(at), before15, 'every row, read by the restored role with its old password');
    assert.equal((await psqlPublished(port, 'SHOW server_version_num')).slice(0, 2), '17');
    // 17 takes writes (the read-only switch of the old server is not in the dump)…
    ok(
      await psql(at, "INSERT INTO orders (item, qty) VALUES ('written on 17', 1)", {
        db: 'shop',
        user: 'shopkeeper',
        password: 'kept-across-upgrades',
      }),
      'write on 17',
    );
    // …and the 15 cluster is still on the volume, beside the new one.
    assert.equal(
      ok(
        await inContainer(name, [
          'cat',
          '/var/lib/postgresql/15/data/PG_VERSION',
          '/var/lib/postgresql/17/data/PG_VERSION',
        ]),
        'PG_VERSION',
      ),
      '15\n17',
    );
    assert.match(ok(await inContainer(name, ['df', '-k', '/dev/shm']), 'df'), /\n\S+\s+262144\s/, 'shmSize kept');
  });

  test('molt rollback: 15 answers again, on its own cluster as it was when the upgrade began, and takes writes', async () => {
    const r = await molt(['rollback', name]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(ok(await psql(at, 'SELECT version()'), 'version'), /^PostgreSQL 15\./);
    assert.equal(await shop(at), before15, 'the row written on 17 lives in the 17 cluster, not in 15');
    ok(
      await psql(at, "INSERT INTO orders (item, qty) VALUES ('written on 15 after the rollback', 2)", { db: 'shop' }),
      'write on 15',
    );
    assert.equal((await psqlPublished(port, 'SHOW server_version_num')).slice(0, 2), '15');
  });

  test("upgrading again restores today's 15 data; the 17 cluster of the first upgrade is set aside, not reused", async () => {
    const r = await apply(example('postgres/pg17.yaml', { name, host: 15, port }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /moved the PostgreSQL 17 cluster of an earlier upgrade aside to \/var\/lib\/postgresql\/17\.superseded-/,
    );
    assert.equal(
      await shop(at),
      '5001|19999',
      'the row written on 15 after the rollback, not the one written on the first 17',
    );
    const ls = ok(await inContainer(name, ['ls', '/var/lib/postgresql']), 'ls');
    assert.match(ls, /^15\n17\n17\.superseded-\d{8}T\d{6}Z\nupgrade$/);
  });
});

describe('a failing PostgreSQL migration rolls back (examples/postgres)', () => {
  test('a 15 cluster using adminpack (removed in 17): the restore fails in 17, molt restores the volume and 15 answers with every row and takes writes', async () => {
    const name = 'pgold';
    const port = await freePort();
    const at = await installShop(name, 16, port);
    ok(await psql(at, 'CREATE EXTENSION adminpack'), 'create extension');
    const before = await shop(at);
    const id = (await tb.h.engine.inspectContainer(name))?.id;

    const r = await apply(example('postgres/pg17.yaml', { name, host: 16, port }));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error\[PostUpgradeFailed\]/);
    assert.match(r.stderr, /extension "adminpack" is not available/);
    assert.match(r.stderr, /↩ RestoreVolumes/);

    const c = await tb.h.engine.inspectContainer(name);
    assert.equal(c?.id, id, 'the old container is back');
    assert.equal(c?.labels['dev.molt.version'], '15.0.0-1');
    assert.equal(c?.networks[tb.net], at, 'same IP');
    assert.match(ok(await psql(at, 'SELECT version()'), 'version'), /^PostgreSQL 15\./);
    assert.equal(await shop(at), before);
    ok(
      await psql(at, "INSERT INTO orders (item, qty) VALUES ('after the failed upgrade', 1)", { db: 'shop' }),
      'the old server is writable again',
    );
    assert.equal(
      ok(await inContainer(name, ['ls', '/var/lib/postgresql']), 'ls'),
      '15',
      'no 17 cluster and no dump left: the snapshot was restored',
    );
    assert.equal((await psqlPublished(port, 'SHOW server_version_num')).slice(0, 2), '15');
  });
});

describe('Redis → Valkey (examples/valkey)', () => {
  const name = 'keyvalue';
  let port: number;
  let at: string;

  /** Writes a little of every type plus 2000 plain keys through redis-cli --pipe. */
  /** Runs redis-cli commands (one per line, in redis-cli's own syntax) in one exec; one output block per command. */
  async function redisCommands(host: string, commands: string[]): Promise<string[]> {
    const script = commands.map((c) => `redis-cli -h ${host} ${c}; echo '--- end'`).join('\n');
    const out = ok(await tb.h.podman(['exec', client, 'sh', '-ec', script]), 'redis-cli');
    return `${out}\n`
      .split('--- end\n')
      .slice(0, commands.length)
      .map((block) => block.trim());
  }

  /** Writes a little of every type plus 2000 plain keys through redis-cli --pipe. */
  async function fill(host: string): Promise<void> {
    await redisCommands(host, [
      'HSET user:1 name Ada lang en',
      'RPUSH queue a b c',
      'SADD tags x y z',
      'ZADD board 10 ada 20 bob',
      'SET session abc EX 3600',
    ]);
    ok(
      await tb.h.podman([
        'exec',
        client,
        'sh',
        '-c',
        `seq 1 2000 | sed 's/.*/SET key:& value-&/' | redis-cli -h ${host} --pipe`,
      ]),
      'redis-cli --pipe',
    );
  }

  async function contents(host: string): Promise<unknown> {
    const [dbsize, user, queue, tags, board, session, ttl, key1234] = await redisCommands(host, [
      'DBSIZE',
      'HGETALL user:1',
      'LRANGE queue 0 -1',
      'SMEMBERS tags',
      'ZRANGE board 0 -1 WITHSCORES',
      'GET session',
      'TTL session',
      'GET key:1234',
    ]);
    return {
      dbsize,
      user,
      queue,
      tags: tags!.split('\n').sort(),
      board,
      session,
      expires: Number(ttl) > 3000,
      key1234,
    };
  }

  async function published(p: number, ...args: string[]): Promise<string> {
    return ok(
      await tb.h.podman([
        'run',
        '--rm',
        '--network',
        'host',
        PG15,
        'redis-cli',
        '-h',
        '127.0.0.1',
        '-p',
        String(p),
        ...args,
      ]),
      `redis-cli 127.0.0.1:${p}`,
    );
  }

  test('redis.yaml installs Redis 7.0: redis-cli in another container writes every type over the app IP; the published port answers', async () => {
    port = await freePort();
    const r = await apply(example('valkey/redis.yaml', { name, host: 20, port }));
    assert.equal(r.code, 0, r.stderr);
    await ensureClient();
    at = ip(20);
    await fill(at);
    assert.match(await redisCli(at, 'INFO', 'server'), /redis_version:7\.0\./);
    assert.equal(await published(port, 'GET', 'key:7'), 'value-7');
  });

  test('valkey.yaml replaces Redis with Valkey 8.1: every key, its type and TTL kept; same IP and published port', async () => {
    const before = await contents(at);
    assert.equal((before as { dbsize: string }).dbsize, '2005');
    const t0 = Date.now();
    const r = await apply(example('valkey/valkey.yaml', { name, host: 20, port }));
    assert.equal(r.code, 0, r.stderr);
    console.log(`# redis → valkey upgrade: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.match(
      r.stderr,
      /pre-upgrade \| 7\.0\.0-1 -> 8\.1\.0-1: saved 2005 keys to \/data\/dump\.rdb \(RDB version 0010/,
    );
    assert.match(
      r.stderr,
      /post-upgrade \| 7\.0\.0-1 -> 8\.1\.0-1: \/data\/appendonlydir \/data\/dump\.rdb readable by Valkey v=8\.1\./,
    );
    assert.equal(await appIp(name), at);
    assert.match(await redisCli(at, 'INFO', 'server'), /server_name:valkey\r?\n[\s\S]*valkey_version:8\.1\./);
    assert.deepEqual(await contents(at), before);
    assert.equal(await published(port, 'GET', 'key:7'), 'value-7');
    await redisCli(at, 'SET', 'written-on', 'valkey');
  });

  test('molt plan shows a changed published port and memory limit field by field, touching nothing', async () => {
    const id = (await tb.h.engine.inspectContainer(name))?.id;
    const other = await freePort();
    const file = example('valkey/valkey.yaml', { name, host: 20, port: other });
    const doc = parse(readFileSync(file, 'utf8'));
    doc.spec.resources = { memory: '512Mi' };
    const r = await molt(['plan', '-f', writeManifest(tb.m, 'valkey-changed.yaml', doc)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`ports: \\["127\\.0\\.0\\.1:${port}:6379"\\] → \\["127\\.0\\.0\\.1:${other}:6379"\\]`),
    );
    assert.match(r.stdout, /resources: \(none\) → \{"memory":"512Mi"\}/);
    assert.equal((await tb.h.engine.inspectContainer(name))?.id, id, 'plan changed nothing');
  });

  test('a Valkey that cannot start (a mistyped option in KV_ARGS) is rolled back: Redis answers with every key', async () => {
    const bad = 'kvbad';
    const badPort = await freePort();
    assert.equal((await apply(example('valkey/redis.yaml', { name: bad, host: 21, port: badPort }))).code, 0);
    await ensureClient();
    const badAt = ip(21);
    await fill(badAt);
    const before = await contents(badAt);
    const r = await apply(
      example('valkey/valkey.yaml', { name: bad, host: 21, port: badPort, env: { KV_ARGS: '--maxmemroy 100mb' } }),
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Bad directive or wrong number of arguments|maxmemroy/);
    assert.match(r.stderr, /↩ StartOld/);
    assert.match(await redisCli(badAt, 'INFO', 'server'), /redis_version:7\.0\./);
    assert.deepEqual(await contents(badAt), before);
    assert.equal(await published(badPort, 'GET', 'key:7'), 'value-7');
  });
});
