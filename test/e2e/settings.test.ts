/**
 * End to end on real Podman through the real CLI (issue 13, acceptance 1 and 4): the container
 * settings are in effect in the running container — checked through the engine's inspect and
 * inside the container — before an upgrade, after it, after a failed upgrade rolled back (the
 * parked old container restarted) and after `molt rollback`; a published port answers on
 * 127.0.0.1 all along; a secret's value appears nowhere molt writes or prints, and its file
 * in the container is 0400, owned by the container's user.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { PodmanHarness } from './harness.ts';
import { buildApp, molt, writeManifest, type MoltEnv, startTestbed } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const REPO = 'localhost/e2e-settings';
const SECRET = 'pw-4f9c2e71-never-shown';

/** The app serves its version over HTTP on port 80 (busybox httpd), beside the usual test app. */
const HTTP_CMD = [
  'sh',
  '-c',
  'mkdir -p /tmp/www && echo "$APP_VERSION" > /tmp/www/version && httpd -p 8080 -h /tmp/www && exec /app/run',
];

before(async () => {
  ({ h, m, net, subnet } = await startTestbed());
  await Promise.all([
    buildApp(h, REPO, '1.0.0-1'),
    buildApp(h, REPO, '1.1.0-1'),
    buildApp(h, REPO, '1.2.0-1', { EXIT_AT_START: 'bad config' }),
  ]);
});
after(async () => h?.stop());

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** GET http://127.0.0.1:PORT/version, retried for a few seconds (the forward appears with the container). */
async function version(port: number): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/version', timeout: 1000 }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d));
          res.on('end', () => resolve(body.trim()));
        });
        req.on('error', reject);
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.end();
      });
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`127.0.0.1:${port} did not answer: ${String(last)}`);
}

interface Files {
  conf: string;
  envFile: string;
  secretFile: string;
}

function hostFiles(name: string): Files {
  const dir = join(m.dir, `${name}-files`);
  const conf = join(dir, 'conf');
  mkdirSync(conf, { recursive: true });
  writeFileSync(join(conf, 'app.conf'), 'from-the-host\n');
  const envFile = join(dir, 'app.env');
  writeFileSync(envFile, '# comment\nFROM_FILE=env-file-value\nOVERRIDDEN=file\n');
  const secretFile = join(dir, 'pw.txt');
  writeFileSync(secretFile, `${SECRET}\n`);
  chmodSync(secretFile, 0o600);
  return { conf, envFile, secretFile };
}

function doc(name: string, version: string, port: number, files: Files, extra: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name },
    spec: {
      package: 'test/settings',
      version,
      image: `${REPO}:${version}`,
      command: HTTP_CMD,
      env: { OVERRIDDEN: 'manifest' },
      volumes: [
        { name: `${name}-data`, mountPath: '/data' },
        { hostPath: files.conf, mountPath: '/etc/app', readOnly: true },
      ],
      network: { name: net, subnet },
      ports: [`127.0.0.1:${port}:8080`],
      resources: { memory: '64Mi', pids: 200 },
      user: '1000:1000',
      workingDir: '/tmp',
      stopSignal: 'SIGINT',
      shmSize: '32Mi',
      tmpfs: [{ mountPath: '/scratch', size: '16Mi' }],
      // Relative to the manifest's directory, which is m.dir.
      envFrom: [{ file: `./${name}-files/app.env` }],
      secrets: [
        { name: 'pw', file: `./${name}-files/pw.txt`, mountPath: '/run/secrets/pw' },
        { name: 'pwenv', file: `./${name}-files/pw.txt`, env: 'APP_PASSWORD' },
      ],
      containerLabels: { 'com.example.team': 'db' },
      probes: { startup: { exec: ['cat', '/tmp/ready'], periodSeconds: 0.2, failureThreshold: 25 } },
      stopTimeoutSeconds: 2,
      ...extra,
    },
  };
}

async function apply(name: string, manifest: unknown) {
  return molt(m, ['apply', '-f', writeManifest(m, `${name}-${Date.now()}.yaml`, manifest)]);
}

/** Every setting in effect in the running container `name` (inspect, and from inside). */
async function assertSettings(name: string, port: number, files: Files, expectedVersion: string): Promise<void> {
  const c = await h.engine.inspectContainer(name);
  assert.ok(c?.running, `${name} runs`);
  const s = c.settings!;
  assert.deepEqual(s.ports, [{ hostIP: '127.0.0.1', hostPort: port, containerPort: 8080, protocol: 'tcp' }]);
  assert.equal(s.memoryBytes, 64 * 1024 * 1024, 'memory limit');
  assert.equal(s.pidsLimit, 200, 'pids limit');
  assert.equal(s.shmSizeBytes, 32 * 1024 * 1024, 'shm size');
  assert.equal(s.stopSignal, 'SIGINT', 'stop signal');
  assert.equal(s.workingDir, '/tmp');
  assert.deepEqual(s.restart, { name: 'unless-stopped', maximumRetryCount: 0 }, 'the default restart policy');
  assert.deepEqual(s.tmpfs, [{ mountPath: '/scratch', sizeBytes: 16 * 1024 * 1024 }]);
  assert.equal(c.user, '1000:1000');
  assert.equal(c.labels['com.example.team'], 'db');
  assert.ok(
    c.mounts.some((x) => x.type === 'bind' && x.source === files.conf && x.destination === '/etc/app' && x.readOnly),
    JSON.stringify(c.mounts),
  );
  const inside = await h.engine.exec(c.id, [
    'sh',
    '-c',
    'id -u; id -g; pwd; cat /etc/app/app.conf; echo "$FROM_FILE $OVERRIDDEN"; df -k /dev/shm | tail -1; stat -c "%a %u %g" /run/secrets/pw; cat /run/secrets/pw',
  ]);
  assert.equal(inside.exitCode, 0, inside.stderr);
  const lines = inside.stdout.trim().split('\n');
  assert.deepEqual(
    lines.slice(0, 5),
    ['1000', '1000', '/tmp', 'from-the-host', 'env-file-value manifest'],
    inside.stdout,
  );
  assert.match(lines[5]!, /\s32768\s/, `/dev/shm is 32 MiB: ${lines[5]}`);
  assert.equal(lines[6], '400 1000 1000', 'the secret file is 0400, owned by the container user');
  assert.equal(lines[7], SECRET, 'the container user can read its secret');
  assert.equal(await version(port), expectedVersion, 'the published port answers on 127.0.0.1');
}

describe('container settings across upgrade and rollback', () => {
  test('in effect after install, upgrade, a failed upgrade rolled back, and molt rollback', async () => {
    const name = 'sett';
    const port = await freePort();
    const files = hostFiles(name);
    const r1 = await apply(name, doc(name, '1.0.0-1', port, files));
    assert.equal(r1.code, 0, r1.stderr);
    await assertSettings(name, port, files, '1.0.0-1');

    const r2 = await apply(name, doc(name, '1.1.0-1', port, files));
    assert.equal(r2.code, 0, r2.stderr);
    await assertSettings(name, port, files, '1.1.0-1');

    // A new version that exits at start: the parked 1.1 container is restarted, settings intact.
    const before = (await h.engine.inspectContainer(name))!.id;
    const r3 = await apply(name, doc(name, '1.2.0-1', port, files));
    assert.equal(r3.code, 1, 'the failed upgrade is rolled back');
    assert.equal((await h.engine.inspectContainer(name))!.id, before, 'the very same 1.1 container');
    await assertSettings(name, port, files, '1.1.0-1');

    const r4 = await molt(m, ['rollback', name]);
    assert.equal(r4.code, 0, r4.stderr);
    await assertSettings(name, port, files, '1.0.0-1');
  });

  test('a changed port is an upgrade of its own; plan shows the field-level diff', async () => {
    const name = 'portmove';
    const [p1, p2] = [await freePort(), await freePort()];
    const files = hostFiles(name);
    assert.equal((await apply(name, doc(name, '1.0.0-1', p1, files))).code, 0);
    const file = writeManifest(
      m,
      `${name}-moved.yaml`,
      doc(name, '1.0.0-1', p2, files, { resources: { memory: '96Mi', pids: 200 } }),
    );
    const plan = await molt(m, ['plan', '-f', file]);
    assert.equal(plan.code, 2, plan.stderr);
    assert.ok(plan.stdout.includes(`ports: ["127.0.0.1:${p1}:8080"] → ["127.0.0.1:${p2}:8080"]`), plan.stdout);
    assert.ok(
      plan.stdout.includes('resources: {"memory":"64Mi", "pids":200} → {"memory":"96Mi", "pids":200}'),
      plan.stdout,
    );
    const r = await molt(m, ['apply', '-f', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await version(p2), '1.0.0-1');
    assert.equal((await h.engine.inspectContainer(name))!.settings?.memoryBytes, 96 * 1024 * 1024);
  });

  test('new contents of an env or secret file under the same path are an upgrade; plan says so without the values', async () => {
    const name = 'refresh';
    const files = hostFiles(name);
    const file = writeManifest(m, `${name}.yaml`, doc(name, '1.0.0-1', await freePort(), files));
    assert.equal((await molt(m, ['apply', '-f', file])).code, 0);
    const same = await molt(m, ['plan', '-f', file]);
    assert.equal(same.code, 0, `${same.stdout}${same.stderr}`);
    writeFileSync(files.envFile, 'FROM_FILE=changed-value\n');
    writeFileSync(files.secretFile, 'rotated-secret-value\n');
    const plan = await molt(m, ['plan', '-f', file]);
    assert.equal(plan.code, 2, plan.stderr);
    assert.match(plan.stdout, /envFrom\/secrets: file contents changed \(values not shown\)/);
    assert.doesNotMatch(plan.stdout + plan.stderr, /changed-value|rotated-secret-value/);
    const r = await molt(m, ['apply', '-f', file]);
    assert.equal(r.code, 0, r.stderr);
    const c = (await h.engine.inspectContainer(name))!;
    const inside = await h.engine.exec(c.id, ['sh', '-c', 'echo "$FROM_FILE"; cat /run/secrets/pw']);
    assert.equal(inside.stdout, 'changed-value\nrotated-secret-value\n');
    assert.equal((await molt(m, ['plan', '-f', file])).code, 0, 'nothing left to do');
  });

  test('a host port another app publishes is refused at its line, nothing created', async () => {
    const files = hostFiles('taker');
    const port = await freePort();
    const held = await apply('holder', doc('holder', '1.0.0-1', port, hostFiles('holder')));
    assert.equal(held.code, 0, held.stderr);
    const file = writeManifest(m, 'taker.yaml', doc('taker', '1.0.0-1', port, files));
    const r = await molt(m, ['apply', '-f', file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^error\\[InvalidInput\\]: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: spec\\.ports\\[0\\]: host port 127\\.0\\.0\\.1:${port}:8080 is already in use`,
        'm',
      ),
    );
    assert.equal(await h.engine.inspectContainer('taker'), undefined, 'nothing created');
    assert.equal(await version(port), '1.0.0-1', 'the holder still answers');
  });

  test('a secret appears nowhere: get -o yaml, history -o json, progress output, the SQLite files, snapshots', async () => {
    const outputs: string[] = [];
    const name = 'sett'; // installed, upgraded, rolled back above: every path has run
    for (const args of [
      ['get', 'app', name, '-o', 'yaml'],
      ['get', 'app', name, '-o', 'json'],
      ['get', 'apps', '-o', 'wide'],
      ['history', name, '-o', 'json'],
      ['history', name],
      ['snapshots', name, '-o', 'json'],
    ]) {
      const r = await molt(m, args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      outputs.push(r.stdout, r.stderr);
    }
    const files = hostFiles('secretless');
    const port = await freePort();
    const r = await apply('secretless', doc('secretless', '1.0.0-1', port, files));
    outputs.push(r.stdout, r.stderr);
    for (const out of outputs) assert.ok(!out.includes(SECRET), `a secret leaked into output: ${out.slice(0, 400)}`);
    // Every file molt keeps: the SQLite store (and its WAL), snapshots, scripts.
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
      );
    const kept = walk(m.home).filter((f) => statSync(f).isFile() && !f.endsWith('.tar'));
    assert.ok(
      kept.some((f) => /\.(db|sqlite)/.test(f)),
      `the store is among ${kept.join(', ')}`,
    );
    for (const f of kept) assert.ok(!readFileSync(f).includes(SECRET), `the secret is in ${f}`);
  });
});
