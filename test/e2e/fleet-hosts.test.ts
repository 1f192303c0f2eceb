/**
 * One UpgradeTask across three engine endpoints, each a separate Podman service with its own
 * storage root and socket, reached three ways: a unix socket, plain TCP (a second
 * `podman system service tcp://127.0.0.1:PORT` on the same storage) and mutual TLS (a TLS
 * proxy in front of the third socket, certificates made with openssl now). Every endpoint
 * keeps its apps' state in its own molt home; the task lives in a fourth, the control home.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startPodman, type PodmanHarness } from './harness.ts';
import { buildApp, molt, moltEnv, writeManifest, type MoltEnv } from './molt-cli.ts';
import { fleet, getTask, historySteps, installFleet, taskDoc } from './fleet-kit.ts';
import { makePki, startTlsProxy, type TlsProxy } from './tls-proxy.ts';

const REPO = 'localhost/e2e-hosts';
const hosts: Array<{ name: string; h: PodmanHarness; m: MoltEnv; net: string; subnet: string; engine: string }> = [];
let tcpService: { pid: number } | undefined;
let proxy: TlsProxy | undefined;
let control: MoltEnv;

before(async () => {
  const [a, b, c] = await Promise.all([startPodman(), startPodman(), startPodman()]);
  if (!a || !b || !c) throw new Error('three harnesses');
  const port = await freePort();
  tcpService = startTcpService(b, port);
  proxy = await startTlsProxy(c.socket, join(c.dir, 'pki'));
  for (const [name, h, engine] of [
    ['a', a, `unix://${a.socket}`],
    ['b', b, `tcp://127.0.0.1:${port}`],
    ['c', c, `tcp://127.0.0.1:${proxy.port}`],
  ] as const) {
    hosts.push({ name, h, m: moltEnv(h), net: h.name('net'), subnet: h.freeSubnet(), engine });
  }
  control = moltEnv(a);
  await Promise.all(hosts.flatMap(({ h }) => [buildApp(h, REPO, '1.0.0-1'), buildApp(h, REPO, '1.1.0-1')]));
  await waitForTcp(port);
  const pki = proxy.pki;
  // Install through the endpoint each host is reached by: a by its socket, b over TCP, c over TLS (Docker's env convention).
  const via: Record<string, { args: string[]; env: Record<string, string> }> = {
    a: { args: [], env: {} },
    b: { args: ['--engine', `tcp://127.0.0.1:${port}`], env: {} },
    c: {
      args: [],
      env: {
        CONTAINER_HOST: '',
        DOCKER_HOST: `tcp://127.0.0.1:${proxy.port}`,
        DOCKER_TLS_VERIFY: '1',
        DOCKER_CERT_PATH: pki.clientDir,
      },
    },
  };
  await Promise.all(
    hosts.map(async (x) => {
      const apps = fleet(`${x.name}app`, 4, x.subnet, () => REPO, '1.0.0-1');
      await installFleet(x.m, apps.slice(0, 3), {
        version: '1.0.0-1',
        network: x.net,
        subnet: x.subnet,
        labels: { tier: 'web' },
        extraArgs: via[x.name]?.args,
        perProcess: 3,
        env: via[x.name]?.env,
      });
      await installFleet(x.m, apps.slice(3), {
        version: '1.0.0-1',
        network: x.net,
        subnet: x.subnet,
        labels: { tier: 'batch' },
        extraArgs: via[x.name]?.args,
        env: via[x.name]?.env,
      });
    }),
  );
});

after(async () => {
  await proxy?.close();
  if (tcpService) await stopGroup(tcpService.pid);
  await Promise.all(hosts.map(({ h }) => h.stop()));
});

test('one task upgrades the matching apps on three endpoints: unix socket, TCP and mutual TLS', async () => {
  const pki = proxy!.pki;
  const inventory = stringify({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'Inventory',
    metadata: { name: 'lab' },
    spec: {
      endpoints: hosts.map((x) => ({
        name: x.name,
        engine: x.engine,
        home: x.m.home,
        ...(x.name === 'c' ? { tls: { ca: pki.ca, cert: pki.cert, key: pki.key } } : {}),
      })),
    },
  });
  const task = taskDoc('web-up', {
    target: { selector: { matchLabels: { tier: 'web' } } },
    inventory: 'lab',
    fromVersion: '1.0.0-1',
    toVersion: '1.1.0-1',
    options: { concurrency: 3 },
  });
  const applied = await molt(control, [
    'task',
    'apply',
    '-f',
    writeManifest(control, 'lab.yaml', `${inventory}---\n${task}`),
  ]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /inventory\/lab created\nupgradetask\/web-up created/);
  const r = await molt(control, ['task', 'run', 'web-up']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /9 target\(s\) on a, b, c/);
  const t = await getTask(control, 'web-up');
  assert.equal(t.status.phase, 'Success');
  assert.deepEqual(
    t.status.targets.map((x) => `${x.target}:${x.phase}`),
    hosts.flatMap((x) => [0, 1, 2].map((i) => `${x.name}/${x.name}app-0${i}:Upgraded`)),
  );
  for (const x of hosts) {
    for (const i of [0, 1, 2, 3]) {
      const app = `${x.name}app-0${i}`;
      const c = await x.h.engine.inspectContainer(app);
      assert.equal(c?.labels['dev.molt.version'], i < 3 ? '1.1.0-1' : '1.0.0-1', `${x.name}/${app} on its own engine`);
      assert.ok(c?.running);
    }
    const ops = await historySteps(x.m, `${x.name}app-00`);
    assert.deepEqual(
      ops.map((o) => `${o.kind}:${o.outcome}`),
      ['install:Succeeded', 'upgrade:Succeeded'],
      `the journal of ${x.name} is in its own home`,
    );
    const entries = t.status.upgradeDetailedStatuses.filter((e) => e.target === `${x.name}/${x.name}app-00`);
    assert.deepEqual(
      entries.map((e) => e.step),
      ['Precheck', ...(ops[1]?.steps ?? [])],
    );
  }
});

test('an endpoint whose server certificate is not from the given CA fails its targets with a TLS error, touching nothing', async () => {
  const other = makePki(join(hosts[0]!.h.dir, 'other-pki'), 'other');
  const c = hosts.find((x) => x.name === 'c')!;
  const before = (await c.h.engine.inspectContainer('capp-00'))?.id;
  const inventory = stringify({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'Inventory',
    metadata: { name: 'wrong-ca' },
    spec: {
      endpoints: [
        { name: 'c', engine: c.engine, home: c.m.home, tls: { ca: other.ca, cert: other.cert, key: other.key } },
      ],
    },
  });
  const task = taskDoc('wrong-ca', { target: { app: 'capp-00' }, inventory: 'wrong-ca', toVersion: '1.2.0-1' });
  assert.equal(
    (await molt(control, ['task', 'apply', '-f', writeManifest(control, 'wrong.yaml', `${inventory}---\n${task}`)]))
      .code,
    0,
  );
  const r = await molt(control, ['task', 'run', 'wrong-ca', '-o', 'json']);
  assert.equal(r.code, 1);
  const target = (JSON.parse(r.stdout) as Awaited<ReturnType<typeof getTask>>).status.targets[0];
  assert.equal(target?.phase, 'Aborted');
  assert.equal(target?.reason, 'EngineUnavailable');
  assert.match(
    target?.message ?? '',
    /endpoint "c": tcp\+tls:\/\/127\.0\.0\.1:\d+: TLS failed .*check the endpoint's tls ca, cert and key.*nothing was changed/,
  );
  assert.equal((await c.h.engine.inspectContainer('capp-00'))?.id, before);
});

/** A second Podman service on the harness's storage, serving plain TCP on 127.0.0.1:port. */
function startTcpService(h: PodmanHarness, port: number): { pid: number } {
  const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: h.env.CONTAINERS_CONF };
  delete env.CONTAINER_HOST;
  const log = openSync(join(h.dir, 'podman-tcp.log'), 'a', 0o600);
  const child = spawn('podman', [...h.globalArgs, 'system', 'service', '--time=0', `tcp://127.0.0.1:${port}`], {
    detached: true,
    stdio: ['ignore', log, log],
    env,
    cwd: h.dir,
  });
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error('could not start the TCP podman service');
  return { pid: child.pid };
}

/** Ends a process group we started (SIGTERM, then SIGKILL after 5 s) and waits for its leader. */
async function stopGroup(pid: number): Promise<void> {
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
  if (alive()) process.kill(-pid, 'SIGKILL');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitForTcp(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}
