/**
 * Fault injection for end-to-end tests: holding a molt at an exact step boundary (the
 * MOLT_TEST_PAUSE_AT hook of src/testing/test-hooks.ts) while the test breaks something,
 * crashing and restarting a harness's Podman service, and the invariant every fault test
 * ends on (the old version back, whole, with its IP and bytes).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DockerHttpClient } from '../../src/engines/docker/http.ts';
import { Store } from '../../src/store/store.ts';
import { volumeChecksum, type PodmanHarness } from './harness.ts';
import { molt, spawnMolt, type MoltEnv } from './molt-cli.ts';

/** A step boundary a molt will stop at, and the means to wait for it and let it go on. */
export interface PausePoint {
  /** Environment entries for the molt that is to pause. */
  readonly env: Record<string, string>;
  /** Resolves with the pid of the molt that paused; rejects when all of `children` exit first, or time runs out. */
  reached(children: ChildProcess | ChildProcess[], timeoutMs?: number): Promise<number>;
  /** Lets the paused molt go on. */
  resume(): void;
}

/** A pause at `point` (`<Step>[:before|:after]`) for one molt run. */
export function pausePoint(m: MoltEnv, point: string): PausePoint {
  const resumeFile = join(m.dir, `resume-${randomBytes(4).toString('hex')}`);
  return {
    env: { MOLT_TEST_HOOKS: '1', MOLT_TEST_PAUSE_AT: point, MOLT_TEST_RESUME_FILE: resumeFile },
    reached: async (children, timeoutMs = 60_000) => {
      const all = Array.isArray(children) ? children : [children];
      const deadline = Date.now() + timeoutMs;
      while (!existsSync(`${resumeFile}.paused`)) {
        if (all.every((c) => c.exitCode !== null || c.signalCode !== null))
          throw new Error(
            `molt exited (${all.map((c) => c.exitCode ?? c.signalCode).join(', ')}) before pausing at ${point}`,
          );
        if (Date.now() > deadline) throw new Error(`molt did not pause at ${point} within ${timeoutMs} ms`);
        await sleep(25);
      }
      return Number(readFileSync(`${resumeFile}.paused`, 'utf8').trim().split(' ')[1]);
    },
    resume: () => writeFileSync(resumeFile, ''),
  };
}

/** A molt child with its output collected, and its exit as a promise. */
export interface RunningMolt {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exit: Promise<number>;
}

/** Starts `molt ARGS` in the background, collecting its output. */
export function startMolt(m: MoltEnv, args: string[], extra: Record<string, string> = {}): RunningMolt {
  const child = spawnMolt(m, args, extra);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number>((resolve) =>
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  return { child, stderr: () => err, stdout: () => out, exit };
}

/** Waits until `predicate` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// ---- the Podman service ----------------------------------------------------------------

/** The pid (process group leader) of the harness's service now running, per harness. */
const servicePids = new WeakMap<PodmanHarness, number>();

/** SIGKILLs the harness's Podman service and its whole process group, as a crash would; waits until it is gone. */
export async function crashService(h: PodmanHarness): Promise<void> {
  const pid = servicePids.get(h) ?? h.pid;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone already
  }
  await waitFor(`podman service ${pid} to end`, () => !alive(pid), 10_000);
}

/**
 * Starts a new `podman system service` for the harness on the same socket, with the same
 * global flags and containers.conf; resolves once it answers. The harness's stop() ends it
 * too (it ends every process naming the harness's dir); `stopService` ends it earlier.
 */
export async function startService(h: PodmanHarness): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: h.env.CONTAINERS_CONF };
  delete env.CONTAINER_HOST;
  delete env.DOCKER_HOST;
  const log = openSync(join(h.dir, 'podman-service.log'), 'a', 0o600);
  const child = spawn('podman', [...h.globalArgs, 'system', 'service', '--time=0', `unix://${h.socket}`], {
    detached: true,
    stdio: ['ignore', log, log],
    env,
    cwd: h.dir,
  });
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error('could not spawn podman system service');
  servicePids.set(h, child.pid);
  const client = new DockerHttpClient({ socketPath: h.socket, idleTimeoutMs: 1_000 });
  await waitFor(
    'the restarted podman service to answer',
    () =>
      client.request('GET', '/_ping').then(
        () => true,
        () => false,
      ),
    30_000,
  );
  return child.pid;
}

/** Ends the service startService started, if any (SIGTERM, then SIGKILL). */
export async function stopService(h: PodmanHarness): Promise<void> {
  const pid = servicePids.get(h);
  if (pid === undefined) return;
  servicePids.delete(h);
  try {
    process.kill(-pid, 'SIGTERM');
    await waitFor(`podman service ${pid} to stop`, () => !alive(pid), 5_000).catch(() => process.kill(-pid, 'SIGKILL'));
  } catch {
    // gone already
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

// ---- the invariant ---------------------------------------------------------------------

/** What must survive a failed upgrade: the old container, its IP and its volume's bytes. */
export interface Survivor {
  name: string;
  id: string;
  ip: string;
  sum: string;
  version: string;
}

/** Observes the running app: the Survivor to compare with after the fault. */
/** Installs v1 from `file`, writes 128 KiB and a note into its volume, and returns what must survive. */
export async function installWithData(m: MoltEnv, file: string, name: string, network: string): Promise<Survivor> {
  const r = await molt(m, ['apply', '-f', file]);
  assert.equal(r.code, 0, r.stderr);
  const c = await m.h.engine.inspectContainer(name);
  const w = await m.h.engine.exec(c!.id, [
    'sh',
    '-c',
    'dd if=/dev/urandom of=/data/blob bs=1k count=128 2>/dev/null && echo precious > /data/note',
  ]);
  assert.equal(w.exitCode, 0, w.stderr);
  return observe(m.h, name, network);
}

export async function observe(h: PodmanHarness, name: string, network: string): Promise<Survivor> {
  const c = await h.engine.inspectContainer(name);
  assert.ok(c?.running, `${name} runs`);
  return {
    name,
    id: c.id,
    ip: c.requestedIps[network] ?? c.networks[network] ?? '',
    sum: await volumeChecksum(h, `${name}-data`),
    version: c.labels['dev.molt.version'] ?? '',
  };
}

/**
 * Asserts that the app is back exactly as `before`: the very same container running at the
 * same IP with the same volume bytes, nothing else of the app left, and molt's status agreeing.
 */
export async function assertBackAsBefore(
  h: PodmanHarness,
  m: MoltEnv,
  network: string,
  before: Survivor,
): Promise<void> {
  const c = await h.engine.inspectContainer(before.name);
  assert.ok(c, `${before.name} exists`);
  assert.equal(c.id, before.id, 'the very same old container');
  assert.ok(c.running, 'it runs');
  assert.equal(c.networks[network], before.ip, 'at the same IP');
  assert.equal(await volumeChecksum(h, `${before.name}-data`), before.sum, 'with the same volume bytes');
  const others = (await h.engine.listContainers([`dev.molt.app=${before.name}`])).filter((x) => x.id !== before.id);
  assert.deepEqual(
    others.map((x) => `${x.name} ${x.status}`),
    [],
    'no new or parked container left',
  );
  const status = JSON.parse((await molt(m, ['get', 'app', before.name, '-o', 'json'])).stdout).status;
  assert.equal(status.installedVersion, before.version, 'molt says the old version is installed');
  assert.equal(status.phase, 'Running');
  assert.equal(status.containerId, before.id);
}

/** The last operation in `molt history NAME -o json`. */
export async function lastOperation(
  m: MoltEnv,
  name: string,
): Promise<{
  outcome: string;
  error: { code: string; message: string } | null;
  steps: Array<{ name: string; rollback: boolean; phase: string; message: string }>;
}> {
  const r = await molt(m, ['history', name, '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).at(-1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- cheap observation for kill-point matrices ------------------------------------------

/**
 * Reads molt's journal (its store under the test's home) directly: a kill-point matrix checks
 * hundreds of apps, and a `molt history` process per app would cost more than the points.
 */
export function readJournal<T>(m: MoltEnv, fn: (store: Store) => T): T {
  const store = Store.open(m.home);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

/**
 * SHA-256 over a volume's files (paths, modes, sizes, bytes), read on the host from the
 * harness's own storage: the same evidence as harness `volumeChecksum` without a podman process.
 */
export async function volumeSum(h: PodmanHarness, volume: string): Promise<string> {
  const root = join(h.dir, 'root', 'volumes', volume, '_data');
  const hash = createHash('sha256');
  for (const rel of (await readdir(root, { recursive: true })).sort()) {
    const st = await lstat(join(root, rel));
    hash.update(`${rel} ${st.mode} ${st.uid}:${st.gid} ${st.size}\n`);
    if (st.isFile()) hash.update(await readFile(join(root, rel)));
  }
  return hash.digest('hex');
}

/**
 * The count of a file's kill-point matrix, per path: each path's points are generated from
 * step lists, so its expected size is known before any test runs. `report()` gives one line
 * per path — `kill points (<path>): tried N, passed N of N` — and one for the file.
 */
export class KillTally {
  readonly file: string;
  readonly #prefix: string;
  readonly #counts = new Map<string, { tried: number; passed: number; size: number }>();

  /** `prefix` names the upgrade path the file's paths belong to in the report (`multi-member: revert`). */
  constructor(file: string, paths: Record<string, readonly string[]>, prefix = '') {
    this.file = file;
    this.#prefix = prefix;
    for (const [path, points] of Object.entries(paths))
      this.#counts.set(path, { tried: 0, passed: 0, size: points.length });
  }

  /** Counts a point of `path` as tried; call first thing in its test. */
  tried(path: string): void {
    this.#get(path).tried++;
  }

  /** Counts a point of `path` as passed; call last thing in its test. */
  passed(path: string): void {
    this.#get(path).passed++;
  }

  /** One line per path, then the file's total. */
  report(): string {
    const all = [...this.#counts.values()].reduce(
      (t, c) => ({ tried: t.tried + c.tried, passed: t.passed + c.passed, size: t.size + c.size }),
      { tried: 0, passed: 0, size: 0 },
    );
    const line = (name: string, c: { tried: number; passed: number; size: number }) =>
      `kill points (${name}): tried ${c.tried}, passed ${c.passed} of ${c.size}`;
    return [
      ...[...this.#counts].map(([path, c]) => line(this.#prefix ? `${this.#prefix}: ${path}` : path, c)),
      line(`${this.file}, all paths`, all),
    ].join('\n');
  }

  /** Every path tried its whole generated size, and every point passed. */
  assertComplete(): void {
    for (const [path, c] of this.#counts) {
      assert.equal(c.tried, c.size, `${path}: tried ${c.tried} of the ${c.size} generated points`);
      assert.equal(c.passed, c.tried, `${path}: ${c.tried - c.passed} point(s) failed`);
    }
  }

  #get(path: string) {
    const c = this.#counts.get(path);
    if (!c) throw new Error(`no kill-point path "${path}" in ${this.file}`);
    return c;
  }
}
