/**
 * Keeping apps running (issue 13, issue 20 item 2), on a real Podman: honest status observed
 * from the engine, `molt describe`, `molt stop`/`start`, `apply` that converges, the restart
 * policy against a `kill -9` from the host, `molt up` after a simulated host restart
 * (containers stopped, molt's own Podman service killed, an upgrade killed mid-way), and the
 * upgrade's monitor window rolling back a version that fails after it was ready.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PODMAN_CONTAINERS_CONF } from '../../src/engines/docker/discover.ts';
import { buildTestImage, run, volumeChecksum, type PodmanHarness, type RunResult } from './harness.ts';
import { molt, moltEnv, startTestbed, writeManifest, type MoltEnv } from './molt-cli.ts';
import { stringify } from 'yaml';
import { kvImage, kvRelease } from './kv-app.ts';

const MOLT = new URL('../../bin/molt', import.meta.url).pathname;
const REPO = 'localhost/e2e-lifecycle';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;

/** The test app: prints a line, optionally writes to its volume, turns unhealthy or exits after a while. */
const RUN_SCRIPT = `#!/bin/sh
trap 'exit 0' TERM
echo "app $APP_VERSION started"
mkdir -p /data
[ -n "$WRITE_DATA" ] && echo "$APP_VERSION was here" >> /data/log
touch /tmp/ready /tmp/healthy
[ -n "$UNHEALTHY_AFTER" ] && (sleep "$UNHEALTHY_AFTER"; rm -f /tmp/healthy; echo "turned unhealthy") &
# EXIT_AFTER counts from the first startup probe (which touches /tmp/probed): the exit falls after ready, however slow the host.
[ -n "$EXIT_AFTER" ] && { while [ ! -e /tmp/probed ]; do sleep 1; done; sleep "$EXIT_AFTER"; echo "exiting with 3"; exit 3; }
while true; do sleep 1 & wait $!; done
`;

async function build(version: string, env: Record<string, string> = {}): Promise<void> {
  await buildTestImage(h, {
    tag: `${REPO}:${version}`,
    cmd: ['/app/run'],
    env: { APP_VERSION: version, ...env },
    files: { '/app/run': { content: RUN_SCRIPT, mode: 0o755 } },
  });
}

before(async () => {
  ({ h, m, net, subnet } = await startTestbed());
  await build('1.0.0-1');
  await build('2.0.0-1', { WRITE_DATA: '1', UNHEALTHY_AFTER: '2' });
  await build('3.0.0-1', { WRITE_DATA: '1', EXIT_AFTER: '8' });
});
after(async () => h?.stop());

function doc(
  name: string,
  version: string,
  extra: Record<string, unknown> = {},
  upgrade: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name },
    spec: {
      package: 'test/life',
      version,
      image: `${REPO}:${version}`,
      volumes: [{ name: `${name}-data`, mountPath: '/data' }],
      network: { name: net, subnet },
      probes: {
        startup: {
          exec: ['sh', '-c', 'touch /tmp/probed; cat /tmp/ready'],
          periodSeconds: 0.2,
          failureThreshold: 50,
          timeoutSeconds: 30,
        },
      },
      stopTimeoutSeconds: 2,
      ...extra,
      ...(Object.keys(upgrade).length ? { upgrade } : {}),
    },
  };
}

const file = (
  env: MoltEnv,
  name: string,
  version: string,
  extra?: Record<string, unknown>,
  upgrade?: Record<string, unknown>,
) => writeManifest(env, `${name}-${version}.yaml`, doc(name, version, extra, upgrade));

async function ok(p: Promise<RunResult>): Promise<RunResult> {
  const r = await p;
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

async function status(env: MoltEnv, name: string): Promise<Record<string, any>> {
  return JSON.parse((await ok(molt(env, ['get', 'app', name, '-o', 'json']))).stdout).status;
}

type Cond = { type: string; status: string; reason: string; message: string };
const ready = (s: Record<string, any>) => (s.conditions as Cond[]).find((c) => c.type === 'Ready')!;

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function killMainProcess(name: string): Promise<void> {
  const pid = (await h.engine.inspectState(name))?.pid;
  assert.ok(pid && pid > 0, `${name} has a host PID`);
  process.kill(pid, 'SIGKILL');
}

describe('crashes: the restart policy and honest status', () => {
  test('kill -9 of the main process from the host: with the default policy it runs again within 10 s, same IP and data', async () => {
    await ok(molt(m, ['apply', '-f', file(m, 'crashy', '1.0.0-1')]));
    const before = (await h.engine.inspectContainer('crashy'))!;
    await h.engine.exec(before.id, ['sh', '-c', 'echo precious > /data/keep']);
    const sum = await volumeChecksum(h, 'crashy-data');
    await killMainProcess('crashy');
    const started = Date.now();
    const again = await until('crashy to run again', 10_000, async () => {
      const s = await h.engine.inspectState('crashy');
      return s?.running && (s.restartCount ?? 0) >= 1 ? s : undefined;
    });
    assert.ok(Date.now() - started < 10_000);
    assert.equal(again.id, before.id, 'the engine restarted the same container');
    const now = (await h.engine.inspectContainer('crashy'))!;
    assert.equal(now.networks[net], before.networks[net], 'same IP');
    assert.equal(await volumeChecksum(h, 'crashy-data'), sum, 'same data');
    const s = await status(m, 'crashy');
    assert.equal(s.phase, 'Running');
    assert.equal(ready(s).status, 'True');
    assert.ok(s.restartCount >= 1, `restartCount ${s.restartCount}`);
  });

  test('with restart: no it stays down, and one `molt get app` shows Degraded / Ready=False with the exit code', async () => {
    await ok(molt(m, ['apply', '-f', file(m, 'fragile', '1.0.0-1', { restart: 'no' })]));
    assert.equal((await h.engine.inspectContainer('fragile'))!.settings?.restart.name, 'no');
    await killMainProcess('fragile');
    await until('fragile to exit', 5_000, async () =>
      (await h.engine.inspectState('fragile'))?.running === false ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await h.engine.inspectState('fragile'))?.running, false, 'nothing restarted it');
    const s = await status(m, 'fragile');
    assert.equal(s.phase, 'Degraded');
    assert.equal(ready(s).status, 'False');
    assert.match(ready(s).message, /exited with code 137/);
    assert.equal(s.container.exitCode, 137);
    assert.equal(s.restartCount, 0);
    const table = await ok(molt(m, ['get', 'apps']));
    assert.match(table.stdout, /^fragile\s+1\.0\.0-1\s+Degraded/m);
    assert.match(table.stdout, /^crashy\s+1\.0\.0-1\s+Running/m);
  });

  test('molt describe app shows spec, status, conditions, the last operation and the last log lines', async () => {
    const r = await ok(molt(m, ['describe', 'app', 'fragile']));
    for (const want of [
      /^Name:\s+fragile$/m,
      /^Phase:\s+Degraded$/m,
      /^Restart Policy:\s+no$/m,
      /State:\s+exited \(exit code 137/,
      /^Conditions:/m,
      /Ready\s+False\s+Error/,
      /^Last Operation:\n\s+#\d+ install ∅ → 1\.0\.0-1\s+Succeeded/m,
      /^Spec:\n\s+package: test\/life/m,
      /^Last Log Lines \(20\):\n\s+app 1\.0\.0-1 started/m,
    ]) {
      assert.match(r.stdout, want);
    }
  });
});

describe('apply converges (issue 20 item 2)', () => {
  test('a container stopped outside molt: plan shows a pending start (exit 2), apply of the same manifest starts it', async () => {
    const f = file(m, 'conv', '1.0.0-1');
    await ok(molt(m, ['apply', '-f', f]));
    assert.equal((await h.podman(['stop', '-t', '1', 'conv'])).code, 0);
    const plan = await molt(m, ['plan', '-f', f]);
    assert.equal(plan.code, 2, plan.stdout + plan.stderr);
    assert.match(plan.stdout, /app\/conv: start \(container conv exited with code \d+.*apply starts it\)/);
    const apply = await ok(molt(m, ['apply', '-f', f]));
    assert.match(apply.stdout, /app\/conv unchanged \(up to date; started its container/);
    assert.equal((await h.engine.inspectState('conv'))?.running, true);
    assert.equal((await molt(m, ['plan', '-f', f])).code, 0, 'nothing pending any more');
  });

  test('a container removed outside molt: plan shows recreate, apply recreates it with the same IP and data', async () => {
    const f = file(m, 'conv', '1.0.0-1');
    const ip = (await h.engine.inspectContainer('conv'))!.networks[net];
    await h.engine.exec('conv', ['sh', '-c', 'echo kept > /data/kept']);
    const sum = await volumeChecksum(h, 'conv-data');
    assert.equal((await h.podman(['rm', '-f', '-t', '1', 'conv'])).code, 0);
    assert.equal((await status(m, 'conv')).phase, 'Degraded');
    const plan = await molt(m, ['plan', '-f', f]);
    assert.equal(plan.code, 2);
    assert.match(plan.stdout, /app\/conv: recreate \(its container is gone/);
    assert.match(plan.stdout, /CreateNew/);
    const apply = await ok(molt(m, ['apply', '-f', f]));
    assert.match(apply.stdout, /recreated its container/);
    const now = (await h.engine.inspectContainer('conv'))!;
    assert.ok(now.running);
    assert.equal(now.networks[net], ip, 'same IP');
    assert.equal(await volumeChecksum(h, 'conv-data'), sum, 'same data');
    assert.equal((await status(m, 'conv')).phase, 'Running');
  });

  test('molt stop is respected by status, apply and plan (and by up: see below); molt start runs it again', async () => {
    const f = file(m, 'conv', '1.0.0-1');
    const stop = await ok(molt(m, ['stop', 'conv']));
    assert.match(stop.stdout, /app\/conv stopped/);
    const s = await status(m, 'conv');
    assert.equal(s.phase, 'Stopped');
    assert.equal(ready(s).reason, 'StoppedByUser');
    assert.equal((await molt(m, ['plan', '-f', f])).code, 0);
    const apply = await ok(molt(m, ['apply', '-f', f]));
    assert.match(apply.stdout, /stopped on purpose/);
    assert.equal((await h.engine.inspectState('conv'))?.running, false, 'apply left it stopped');
    const start = await ok(molt(m, ['start', 'conv']));
    assert.match(start.stdout, /app\/conv started/);
    assert.equal((await status(m, 'conv')).phase, 'Running');
  });
});

describe('upgrade.monitorSeconds: a version that fails after it was ready rolls back, data restored', () => {
  const healthcheck = { exec: ['cat', '/tmp/healthy'], periodSeconds: 1, failureThreshold: 2 };

  test('a failing healthcheck within the window', async () => {
    await ok(molt(m, ['apply', '-f', file(m, 'mon', '1.0.0-1', { healthcheck })]));
    await h.engine.exec('mon', ['sh', '-c', 'echo v1 > /data/v1']);
    const sum = await volumeChecksum(h, 'mon-data');
    const r = await molt(m, ['apply', '-f', file(m, 'mon', '2.0.0-1', { healthcheck }, { monitorSeconds: 15 })]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /healthcheck failed 2 times in a row .*monitor window/);
    assert.match(r.stderr, /rolled back to 1\.0\.0-1/);
    const c = (await h.engine.inspectContainer('mon'))!;
    assert.ok(c.running);
    assert.equal(c.labels['dev.molt.version'], '1.0.0-1');
    assert.equal(await volumeChecksum(h, 'mon-data'), sum, "the new version's write is undone");
    const history = JSON.parse((await ok(molt(m, ['history', 'mon', '-o', 'json']))).stdout) as {
      steps: { name: string; phase: string }[];
      outcome: string;
    }[];
    const last = history.at(-1)!;
    assert.equal(last.outcome, 'RolledBack');
    assert.deepEqual(last.steps.find((s) => s.name === 'MonitorNew')?.phase, 'Failed');
    assert.ok(last.steps.some((s) => s.name === 'RestoreVolumes' && s.phase === 'Completed'));
  });

  test('an exit within the window, even one the restart policy undid', async () => {
    const sum = await volumeChecksum(h, 'mon-data');
    const r = await molt(m, ['apply', '-f', file(m, 'mon', '3.0.0-1', { healthcheck }, { monitorSeconds: 40 })]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /monitor window: (container mon exited with code 3|restarted by the engine)/);
    const c = (await h.engine.inspectContainer('mon'))!;
    assert.equal(c.labels['dev.molt.version'], '1.0.0-1');
    assert.ok(c.running);
    assert.equal(await volumeChecksum(h, 'mon-data'), sum);
  });

  test('a good version passes the window and the upgrade succeeds', async () => {
    await build('1.1.0-1');
    const r = await ok(molt(m, ['apply', '-f', file(m, 'mon', '1.1.0-1', { healthcheck }, { monitorSeconds: 2 })]));
    assert.match(r.stderr, /MonitorNew .*kept running for 2s after ready, healthcheck passing/);
  });
});

test('molt systemd install writes a oneshot unit that runs molt up, and says how to enable it', async () => {
  const dir = mkdtempSync(join(m.dir, 'units-'));
  const r = await ok(molt(m, ['systemd', 'install', '--user', '--dir', dir]));
  assert.equal(r.stdout.trim(), `wrote ${dir}/molt.service`);
  assert.match(r.stderr, /systemctl --user daemon-reload && systemctl --user enable molt\.service/);
  const unit = readFileSync(join(dir, 'molt.service'), 'utf8');
  assert.match(unit, /^Type=oneshot$/m);
  assert.match(unit, /^After=network-online\.target$/m);
  assert.match(unit, new RegExp(`^ExecStart=\\S+/bin/molt --home ${m.home} up$`, 'm'));
});

test('molt up refuses a dependsOn cycle before touching anything', async () => {
  const env = moltEnv(h);
  await ok(molt(env, ['apply', '-f', file(env, 'cyc-a', '1.0.0-1')]));
  await ok(molt(env, ['apply', '-f', file(env, 'cyc-b', '1.0.0-1', { dependsOn: ['cyc-a'] })]));
  await ok(molt(env, ['apply', '-f', file(env, 'cyc-a', '1.0.0-1', { dependsOn: ['cyc-b'] })]));
  assert.equal((await h.podman(['stop', '-t', '1', 'cyc-a', 'cyc-b'])).code, 0);
  const r = await molt(env, ['up']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error\[DependencyCycle\]: .*cyc-a → cyc-b → cyc-a/);
  assert.equal((await h.engine.inspectState('cyc-a'))?.running, false, 'nothing started');
  assert.equal((await h.engine.inspectState('cyc-b'))?.running, false);
  await ok(molt(env, ['delete', 'cyc-a']));
  await ok(molt(env, ['delete', 'cyc-b']));
});

test('a release app with a member down shows Degraded naming it; molt up starts the member again', async () => {
  const env = moltEnv(h);
  const tag = await kvImage(h, '1.0.0-1');
  const docs = [
    kvRelease('kvl-1', '1.0.0-1', tag),
    {
      apiVersion: 'molt.dev/v1alpha1',
      kind: 'App',
      metadata: { name: 'kvl' },
      spec: {
        release: 'kvl-1',
        roles: [
          { name: 'a', members: 2 },
          { name: 'b', members: 1 },
        ],
        network: { name: net, subnet },
      },
    },
  ];
  await ok(molt(env, ['apply', '-f', writeManifest(env, 'kvl.yaml', docs.map((d) => stringify(d)).join('---\n'))]));
  assert.match((await ok(molt(env, ['get', 'apps']))).stdout, /^kvl\s+1\.0\.0-1\s+Running/m);
  assert.equal((await h.podman(['stop', '-t', '1', 'kvl-a-1'])).code, 0);
  assert.match((await ok(molt(env, ['get', 'apps']))).stdout, /^kvl\s+1\.0\.0-1\s+Degraded/m);
  const s = JSON.parse((await ok(molt(env, ['get', 'app', 'kvl', '-o', 'json']))).stdout).status;
  assert.equal(s.phase, 'Degraded');
  assert.match(ready(s).message, /members not running: kvl-a-1 \(container kvl-a-1 exited with code/);
  assert.deepEqual(
    s.roles.flatMap((r: { members: { name: string; phase: string }[] }) =>
      r.members.map((x) => `${x.name}:${x.phase}`),
    ),
    ['kvl-a-0:Running', 'kvl-a-1:Degraded', 'kvl-b-0:Running'],
  );
  const up = await ok(molt(env, ['up']));
  assert.match(up.stdout, /^app\/kvl-a-1 started/m);
  assert.equal((await h.engine.inspectState('kvl-a-1'))?.running, true);
  assert.match((await ok(molt(env, ['get', 'apps']))).stdout, /^kvl\s+1\.0\.0-1\s+Running/m);
  await ok(molt(env, ['delete', 'kvl']));
});

describe('a simulated host restart: molt up', () => {
  let home: MoltEnv;
  let env: NodeJS.ProcessEnv;
  const up = (args: string[], extra: Record<string, string> = {}) =>
    run(MOLT, args, { ...env, ...extra }, undefined, 180_000);

  before(async () => {
    // molt finds no engine and starts its own Podman service, on this harness's storage.
    home = moltEnv(h);
    const driver = (await h.podman(['info', '--format', '{{.Store.GraphDriverName}}'])).stdout.trim();
    const conf = join(home.dir, 'containers.conf');
    writeFileSync(
      conf,
      `${PODMAN_CONTAINERS_CONF.replace('[engine]\n', `[engine]\nlock_type = "file"\ntmp_dir = "${h.dir}/tmp"\n`)}\n[network]\nnetwork_config_dir = "${h.dir}/net"\n`,
    );
    const storage = join(home.dir, 'storage.conf');
    writeFileSync(
      storage,
      `[storage]\ndriver = "${driver}"\ngraphroot = "${h.dir}/root"\nrunroot = "${h.dir}/runroot"\n`,
    );
    env = {
      ...process.env,
      MOLT_HOME: home.home,
      NO_COLOR: '1',
      CONTAINERS_CONF: conf,
      CONTAINERS_STORAGE_CONF: storage,
    };
    delete env.CONTAINER_HOST;
    delete env.DOCKER_HOST;
  });

  const servicePid = () => Number(readFileSync(join(home.home, 'podman-service.pid'), 'utf8').trim());

  test('every app that was running runs again, dependencies first; an upgrade killed mid-way is finished; one stopped on purpose stays stopped', async () => {
    const apps = {
      'up-web': ['up-api'],
      'up-api': ['up-db'],
      'up-db': [] as string[],
      'up-solo': [] as string[],
      'up-idle': [] as string[],
    };
    for (const [name, deps] of Object.entries(apps)) {
      const r = await up(['apply', '-f', file(home, name, '1.0.0-1', { dependsOn: deps })]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.match(
      readFileSync(join(home.home, 'podman-service.log'), 'utf8') +
        (existsSync(join(home.home, 'podman-service.pid')) ? 'pid' : ''),
      /pid/,
      'molt started its own Podman service',
    );
    assert.equal((await up(['stop', 'up-idle'])).code, 0);
    const killed = await up(['apply', '-f', file(home, 'up-solo', '1.1.0-1')], {
      MOLT_TEST_HOOKS: '1',
      MOLT_TEST_KILL_AT: 'CreateNew:after',
    });
    assert.ok(killed.code >= 128, `molt was killed mid-upgrade: ${killed.stderr}`);

    // The host goes down: every container stops, the service dies.
    assert.equal((await h.podman(['stop', '-a', '-t', '1'])).code, 0);
    const pid = servicePid();
    process.kill(-pid, 'SIGKILL');
    await until('the service to die', 10_000, async () =>
      existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
        ? undefined
        : true,
    );
    for (const name of Object.keys(apps))
      assert.equal((await h.engine.inspectState(name))?.running, false, `${name} is down`);

    const r = await up(['up']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.notEqual(servicePid(), pid, 'molt up started a new Podman service');
    assert.match(r.stderr, /up-solo: the interrupted upgrade \(operation \d+\) ended Succeeded/);
    assert.match(r.stdout, /^app\/up-idle stopped: stopped on purpose/m);
    const started: Record<string, number> = {};
    for (const name of ['up-db', 'up-api', 'up-web', 'up-solo']) {
      const s = (await h.engine.inspectState(name))!;
      assert.ok(s.running, `${name} runs again`);
      started[name] = Date.parse(s.startedAt!);
    }
    assert.ok(
      started['up-db']! < started['up-api']! && started['up-api']! < started['up-web']!,
      `dependencies first: ${JSON.stringify(started)}`,
    );
    assert.equal(
      (await h.engine.inspectContainer('up-solo'))!.labels['dev.molt.version'],
      '1.1.0-1',
      'the killed upgrade was finished',
    );
    assert.equal((await h.engine.listContainers(['dev.molt.app=up-solo'])).length, 1, 'no parked container left');
    assert.equal((await h.engine.inspectState('up-idle'))?.running, false);
    const st = JSON.parse((await up(['get', 'app', 'up-idle', '-o', 'json'])).stdout).status;
    assert.equal(st.phase, 'Stopped');
    const again = await up(['up']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /^app\/up-web running/m);
    process.kill(-servicePid(), 'SIGTERM');
  });
});
