/**
 * An isolated, real Podman for end-to-end tests. `startPodman()` runs a private
 * `podman system service` whose storage, run state, tmp dir and network configs all live in
 * one temp dir, so test files can run in parallel (node --test runs files concurrently).
 *
 * What is shared on the host anyway, and how each harness stays out of the others' way:
 * - rootful netavark keeps its IPAM database and aardvark-dns configs in
 *   /run/containers/networks, keyed by network NAME → give networks unique names
 *   (`h.name('net')`);
 * - bridges are host interfaces; netavark numbers them podman0, podman1, … per
 *   network-config dir, so two harnesses would pick the same one → DockerEngine names the
 *   bridge of every network it creates after the network (`bridgeName` in
 *   src/engines/docker/convert.ts); create networks through the engine, or pass
 *   `--interface-name` when using `h.podman(['network', 'create', …])`;
 * - subnets are host routes → `freeSubnet()` hands each caller a /24 of 10.90.0.0/16 that no
 *   other harness holds and no host route overlaps.
 *
 * `stop()` removes containers and networks, kills the service's process group and any
 * process still naming the temp dir (an exec's conmon lingers exit_command_delay, 10 s), unmounts what
 * Podman mounted below it and deletes it. A process exit hook does the same, more bluntly,
 * for harnesses a failing test did not stop.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { lstat, mkdtemp, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerEngine } from '../../src/engines/docker/engine.ts';
import { PODMAN_CONTAINERS_CONF } from '../../src/engines/docker/discover.ts';
import { DockerHttpClient } from '../../src/engines/docker/http.ts';
import { HarnessTimeout } from '../command-limit.ts';

export { buildTestImage } from '../images/build.ts';
export type { TestImageOptions } from '../images/build.ts';

/** The result of one podman CLI run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A private Podman service and the means to use and remove it. */
export interface PodmanHarness {
  /** Six hex digits unique to this harness; part of every name from `name()`. */
  readonly id: string;
  /** The temp dir holding everything of this harness (0700). */
  readonly dir: string;
  /** Path of the service's unix socket. */
  readonly socket: string;
  /** Pid of the service (leader of its own process group). */
  readonly pid: number;
  /** Global podman flags that select this harness's storage and config. */
  readonly globalArgs: string[];
  /** Environment entries to add when spawning molt or podman against this harness. */
  readonly env: Record<string, string>;
  /** A DockerEngine connected to the service. */
  readonly engine: DockerEngine;
  /** Runs the podman CLI with this harness's flags and environment. */
  podman(args: string[], options?: { input?: string | Buffer; timeoutMs?: number }): Promise<RunResult>;
  /** `base-<id>`: a name no other harness uses (for networks above all). */
  name(base: string): string;
  /** A /24 subnet of 10.90.0.0/16 for this harness alone, released by stop(). */
  freeSubnet(): string;
  /** Removes everything and ends every process of this harness. Safe to call twice. */
  stop(): Promise<void>;
}

/** A started harness, as the cleanup needs it. */
interface LiveEntry {
  dir: string;
  pid: number;
  globalArgs: string[];
  env: NodeJS.ProcessEnv;
}

const live = new Set<LiveEntry>();
let exitHookInstalled = false;

/** Starts an isolated Podman service; resolves once it answers `_ping`. */
export async function startPodman(options: { startTimeoutMs?: number } = {}): Promise<PodmanHarness> {
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), 'molt-e2e-'));
  const conf = join(dir, 'containers.conf');
  // File locks under the harness's own --tmpdir instead of the host-wide shared-memory pool
  // (2048 locks for every Podman on the host): a harness can then never leak locks that
  // outlive it, nor run the host out of them.
  await writeFile(conf, PODMAN_CONTAINERS_CONF.replace('[engine]\n', '[engine]\nlock_type = "file"\n'), {
    mode: 0o600,
  });
  const socket = join(dir, 'podman.sock');
  const globalArgs = [
    '--root',
    join(dir, 'root'),
    '--runroot',
    join(dir, 'runroot'),
    '--tmpdir',
    join(dir, 'tmp'),
    '--network-config-dir',
    join(dir, 'net'),
    '--cgroup-manager',
    'cgroupfs',
    '--runtime',
    'runc',
    '--events-backend',
    'file',
  ];
  const env: Record<string, string> = { CONTAINERS_CONF: conf, CONTAINER_HOST: `unix://${socket}` };
  const childEnv: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: conf };
  delete childEnv.CONTAINER_HOST;
  delete childEnv.DOCKER_HOST;

  const logFd = openSync(join(dir, 'podman-service.log'), 'a', 0o600);
  // cwd: the harness's own dir. conmon writes an empty `oom` file into its working directory
  // when a container is OOM-killed; started from the repository it left one there (issue 20).
  const child = spawn('podman', [...globalArgs, 'system', 'service', '--time=0', `unix://${socket}`], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: childEnv,
    cwd: dir,
  });
  closeSync(logFd);
  if (child.pid === undefined) throw new Error('could not spawn podman');
  const pid = child.pid;
  const entry: LiveEntry = { dir, pid, globalArgs, env: childEnv };
  live.add(entry);
  child.unref();
  try {
    await waitForPing(socket, child, options.startTimeoutMs ?? 15_000, dir);
  } catch (error) {
    await teardown(entry, []);
    throw error;
  }

  const id = randomBytes(3).toString('hex');
  const subnets: string[] = [];
  let stopped = false;
  const podman = (args: string[], o: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> =>
    run('podman', [...globalArgs, ...args], childEnv, o.input, o.timeoutMs, { cwd: dir });
  return {
    id,
    dir,
    socket,
    pid,
    globalArgs,
    env,
    engine: new DockerEngine({ socketPath: socket }),
    podman,
    name: (base) => `${base}-${id}`,
    freeSubnet: () => {
      const subnet = freeSubnet();
      subnets.push(subnet);
      return subnet;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await teardown(entry, subnets);
    },
  };
}

async function waitForPing(socket: string, child: ChildProcess, timeoutMs: number, dir: string): Promise<void> {
  const client = new DockerHttpClient({ socketPath: socket, idleTimeoutMs: 1_000 });
  const deadline = Date.now() + timeoutMs;
  let exit: string | undefined;
  child.on('exit', (code, signal) => {
    exit = `exited (${signal ?? code})`;
  });
  for (;;) {
    try {
      await client.request('GET', '/_ping');
      return;
    } catch {
      if (exit !== undefined || Date.now() > deadline) {
        const log = readFileSync(join(dir, 'podman-service.log'), 'utf8').trim().split('\n').slice(-5).join('\n');
        throw new Error(`podman service ${exit ?? `did not answer within ${timeoutMs} ms`}:\n${log}`);
      }
      await sleep(25);
    }
  }
}

/** Removes containers, volumes and networks, ends all processes of the harness, unmounts and deletes its dir. */
async function teardown(entry: LiveEntry, subnets: string[]): Promise<void> {
  const problems: string[] = [];
  // A hung podman is reported among the problems; the cleanup goes on.
  const cli = (args: string[]): Promise<RunResult> =>
    run('podman', [...entry.globalArgs, ...args], entry.env, undefined, 60_000, { cwd: entry.dir }).catch(
      (e: unknown) => ({ code: 124, stdout: '', stderr: e instanceof Error ? e.message : String(e) }),
    );
  const rmAll = await cli(['rm', '--all', '--force', '--time', '0']);
  if (rmAll.code !== 0) problems.push(`podman rm: ${rmAll.stderr.trim()}`);
  // Every volume holds one of the host-wide SHM locks (2048 by default): deleting the dir alone leaks it until reboot.
  const rmVolumes = await cli(['volume', 'rm', '--all', '--force']);
  if (rmVolumes.code !== 0) problems.push(`podman volume rm: ${rmVolumes.stderr.trim()}`);
  const nets = await cli(['network', 'ls', '--format', '{{.Name}}']);
  const names = nets.stdout
    .split('\n')
    .map((n) => n.trim())
    .filter((n) => n !== '' && n !== 'podman');
  if (names.length > 0) {
    const rmNets = await cli(['network', 'rm', '--force', ...names]);
    if (rmNets.code !== 0) problems.push(`podman network rm: ${rmNets.stderr.trim()}`);
  }
  await killGroupAndWait(entry.pid);
  await killProcessesNaming(entry.dir);
  unmountBelow(entry.dir);
  rmSync(entry.dir, { recursive: true, force: true });
  for (const subnet of subnets) releaseSubnet(subnet);
  live.delete(entry);
  if (problems.length > 0) throw new Error(`harness cleanup of ${entry.dir} had problems:\n${problems.join('\n')}`);
}

/**
 * Ends a process group (when given) and every process naming `dir`, unmounts what is mounted
 * below `dir` and deletes it: for a service a test started by other means than startPodman.
 */
export async function reapDir(dir: string, groupLeader?: number): Promise<void> {
  if (groupLeader !== undefined) await killGroupAndWait(groupLeader);
  await killProcessesNaming(dir);
  unmountBelow(dir);
  rmSync(dir, { recursive: true, force: true });
}

async function killGroupAndWait(pid: number): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
  if (alive(pid)) signalGroup(pid, 'SIGKILL');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
}

/** Kills every process whose command line mentions `dir` (conmon, podman cleanup), and waits. */
async function killProcessesNaming(dir: string): Promise<void> {
  for (let round = 0; round < 100; round++) {
    const pids = processesNaming(dir);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await sleep(50);
  }
}

function processesNaming(dir: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1];
      if (state !== 'Z' && cmdline.split('\0').some((arg) => arg === dir || arg.includes(`${dir}/`)))
        found.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Unmounts (deepest first) what is mounted below `dir`; only those, never anything else. */
function unmountBelow(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))))
    .filter((p) => p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mounts) {
    if (spawnSync('umount', [mountPoint]).status !== 0) spawnSync('umount', ['-l', mountPoint]);
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', emergencyCleanup);
  // Killed by a signal (Ctrl-C, the test runner's timeout): clean up, then let the signal do what it would have done.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      emergencyCleanup();
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** Synchronous last-resort cleanup of harnesses nobody stopped. */
function emergencyCleanup(): void {
  for (const entry of live) {
    const cli = (args: string[]) =>
      spawnSync('podman', [...entry.globalArgs, ...args], {
        env: entry.env,
        encoding: 'utf8',
        timeout: 30_000,
        cwd: entry.dir,
      });
    cli(['rm', '--all', '--force', '--time', '0']);
    cli(['volume', 'rm', '--all', '--force']);
    const nets = (cli(['network', 'ls', '--format', '{{.Name}}']).stdout ?? '')
      .split('\n')
      .filter((n) => n !== '' && n !== 'podman');
    if (nets.length > 0) cli(['network', 'rm', '--force', ...nets]);
    signalGroup(entry.pid, 'SIGKILL');
    for (const pid of processesNaming(entry.dir)) signalGroup(pid, 'SIGKILL', false);
    unmountBelow(entry.dir);
    try {
      rmSync(entry.dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  live.clear();
  for (const lock of heldSubnets.values()) rmLock(lock);
  heldSubnets.clear();
}

function signalGroup(pid: number, signal: NodeJS.Signals, group = true): void {
  try {
    process.kill(group ? -pid : pid, signal);
  } catch {
    // gone already
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return state !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Runs a command, collecting its output; never rejects for a non-zero exit. After `timeoutMs`
 * the command is killed and the promise rejects with a HarnessTimeout naming it, its own
 * limit (`extra.limitMs`) and its stderr. `extra.cwd` (default: the caller's): where it runs.
 */
export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string | Buffer,
  timeoutMs = 120_000,
  extra: { limitMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'], ...(extra.cwd ? { cwd: extra.cwd } : {}) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    // Rejects at once: a grandchild that keeps the pipes open must not hold the report back.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new HarnessTimeout(cmd, args, timeoutMs, extra.limitMs, Buffer.concat(err).toString()));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

// ---- volumes -------------------------------------------------------------------------

/**
 * SHA-256 over a volume's content, read on the host from its mountpoint: every path (sorted)
 * with its type, permission bits, owner, size and bytes, and link targets. Times are left
 * out, so a faithful copy has the same checksum.
 */
export async function volumeChecksum(h: PodmanHarness, volume: string): Promise<string> {
  const inspect = await h.podman(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume]);
  if (inspect.code !== 0) throw new Error(`podman volume inspect ${volume}: ${inspect.stderr.trim()}`);
  return treeChecksum(inspect.stdout.trim());
}

/** The checksum volumeChecksum computes, over any directory on the host (a volume's mountpoint, a PV's path). */
export async function treeChecksum(dir: string): Promise<string> {
  const hash = createHash('sha256');
  await hashTree(dir, '', hash);
  return hash.digest('hex');
}

async function hashTree(root: string, rel: string, hash: ReturnType<typeof createHash>): Promise<void> {
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = rel === '' ? name : `${rel}/${name}`;
    const full = join(root, path);
    const st = await lstat(full);
    const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isDirectory()) {
      hash.update(`d ${path} ${meta}\n`);
      await hashTree(root, path, hash);
    } else if (st.isSymbolicLink()) {
      hash.update(`l ${path} ${await readlink(full)}\n`);
    } else if (st.isFile()) {
      hash.update(`f ${path} ${meta} ${st.size}\n`);
      hash.update(await readFile(full));
    } else {
      hash.update(`o ${path} ${meta}\n`);
    }
  }
}

// ---- subnets -------------------------------------------------------------------------

const SUBNET_DIR = join(tmpdir(), 'molt-e2e-subnets');
const heldSubnets = new Map<string, string>();

/**
 * A /24 in 10.90.0.0/16 (never 10.90.0.0/24, molt's default) that no live process holds
 * through this function and that no host route or /etc/containers network overlaps. Held
 * until `releaseSubnet` or the end of the process (a dead holder's claim is taken over).
 */
export function freeSubnet(): string {
  mkdirSync(SUBNET_DIR, { recursive: true, mode: 0o700 });
  return withAllocationLock(() => {
    const busy = hostSubnets();
    const start = process.pid % 254;
    for (let i = 0; i < 254; i++) {
      const third = ((start + i) % 254) + 1;
      const subnet = `10.90.${third}.0/24`;
      if (busy.some((range) => overlaps(range, ipToInt(`10.90.${third}.0`), 24))) continue;
      const lock = join(SUBNET_DIR, `10.90.${third}`);
      const holder = existsSync(lock) ? Number.parseInt(readFileSync(lock, 'utf8'), 10) : undefined;
      if (holder !== undefined && alive(holder)) continue;
      writeFileSync(lock, `${process.pid}\n`);
      heldSubnets.set(subnet, lock);
      return subnet;
    }
    throw new Error('no free /24 left in 10.90.0.0/16');
  });
}

/** Gives a subnet from freeSubnet back. */
export function releaseSubnet(subnet: string): void {
  const lock = heldSubnets.get(subnet);
  if (lock === undefined) return;
  heldSubnets.delete(subnet);
  rmLock(lock);
}

function rmLock(lock: string): void {
  try {
    if (Number.parseInt(readFileSync(lock, 'utf8'), 10) === process.pid) unlinkSync(lock);
  } catch {
    // already gone
  }
}

/** Runs `fn` holding a directory lock shared by all test processes (stale after 10 s). */
function withAllocationLock<T>(fn: () => T): T {
  const lockDir = join(SUBNET_DIR, '.allocating');
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lockDir).mtimeMs > 10_000) rmdirSync(lockDir);
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) throw new Error(`could not take ${lockDir}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  try {
    return fn();
  } finally {
    rmdirSync(lockDir);
  }
}

type Range = { base: number; bits: number };

/** IPv4 ranges routed on this host plus subnets of networks in /etc/containers/networks. */
function hostSubnets(): Range[] {
  const ranges: Range[] = [];
  for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[1] === undefined || f[7] === undefined) continue;
    const base = leHexToInt(f[1]);
    const mask = leHexToInt(f[7]);
    if (mask === 0) continue;
    ranges.push({ base, bits: popcount(mask) });
  }
  try {
    for (const file of readdirSync('/etc/containers/networks')) {
      if (!file.endsWith('.json')) continue;
      const text = readFileSync(join('/etc/containers/networks', file), 'utf8');
      for (const m of text.matchAll(/"subnet":\s*"(\d+\.\d+\.\d+\.\d+)\/(\d+)"/g)) {
        if (m[1] && m[2]) ranges.push({ base: ipToInt(m[1]), bits: Number(m[2]) });
      }
    }
  } catch {
    // no such directory
  }
  return ranges;
}

function popcount(n: number): number {
  let count = 0;
  for (let v = n >>> 0; v !== 0; v >>>= 1) count += v & 1;
  return count;
}

function leHexToInt(hex: string): number {
  const n = Number.parseInt(hex, 16);
  return (((n & 0xff) << 24) | (((n >>> 8) & 0xff) << 16) | (((n >>> 16) & 0xff) << 8) | ((n >>> 24) & 0xff)) >>> 0;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

function overlaps(range: Range, base: number, bits: number): boolean {
  const common = Math.min(range.bits, bits);
  const mask = common === 0 ? 0 : (~0 << (32 - common)) >>> 0;
  return (range.base & mask) >>> 0 === (base & mask) >>> 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
