// Shared access to the single-node Kubernetes cluster of test/k8s/cluster, for e2e tests.
//
// Contract (see test/k8s/README.md):
//  - ensureCluster() starts the cluster unless it is already up (`cluster acquire PID`) and
//    registers this process as one of its users. It may do the cold build of the Kubernetes
//    binaries, so call it from a `before` hook without a timeout.
//  - stopClusterIfStarted() unregisters this process (`cluster release PID`); the last user
//    out stops a cluster that a test started, unless MOLT_K8S_KEEP=1. A cluster started by
//    hand (`cluster up`) is never stopped by tests. So test files, one after another or at
//    the same time, share one cluster safely.
//  - kubectl() runs the kubectl that matches the server version against the cluster.
import { spawn, spawnSync } from 'node:child_process';
import { kubectlLimitMs, spawnSyncWithin } from '../command-limit.ts';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLUSTER_SCRIPT = fileURLToPath(new URL('./cluster', import.meta.url));

export interface ClusterHandle {
  kubeconfig: string;
  kubectlPath: string;
  startedByUs: boolean;
  /** Wall time of the `up` this process ran (0 when the cluster was already up). */
  upSeconds: number;
  /** Whether the Kubernetes binaries were already cached before that `up`. */
  cacheWasWarm: boolean;
  /** Identifies this incarnation of the cluster (its CA changes at every `up`). */
  id: string;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

let handle: ClusterHandle | undefined;
let lockHolder: ReturnType<typeof spawn> | undefined;

function scriptEnv(): NodeJS.ProcessEnv {
  return lockHolder ? { ...process.env, MOLT_K8S_LOCK_HELD: '1' } : process.env;
}

/** Runs test/k8s/cluster synchronously and returns what it printed. */
export function runCluster(args: string[], input?: string): RunResult {
  const r = spawnSync(CLUSTER_SCRIPT, args, {
    encoding: 'utf8',
    input,
    env: scriptEnv(),
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function mustRunCluster(args: string[]): string {
  const r = runCluster(args);
  if (r.status !== 0) {
    throw new Error(`test/k8s/cluster ${args.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/** Runs `cluster acquire PID`, streaming its progress to stderr (a cold build takes long). */
function clusterAcquire(): Promise<{ stdout: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(CLUSTER_SCRIPT, ['acquire', String(process.pid)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: scriptEnv(),
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code === 0) resolve({ stdout, seconds });
      else reject(new Error(`test/k8s/cluster acquire failed with exit code ${code}`));
    });
  });
}

function parseEnv(stdout: string): { kubeconfig: string; kubectlPath: string } {
  const get = (name: string): string => {
    const m = new RegExp(`^export ${name}=(.*)$`, 'm').exec(stdout);
    if (!m?.[1]) throw new Error(`no ${name} in the output of test/k8s/cluster:\n${stdout}`);
    return m[1];
  };
  return { kubeconfig: get('KUBECONFIG'), kubectlPath: get('MOLT_K8S_KUBECTL') };
}

export function isClusterUp(): boolean {
  return runCluster(['status']).status === 0;
}

function cacheIsWarm(): boolean {
  return /binaries: ready/.test(mustRunCluster(['cache-info']));
}

/** Starts the cluster unless it is up, and registers this process as a user of it. */
export async function ensureCluster(): Promise<ClusterHandle> {
  if (handle && clusterUsers().includes(process.pid) && isClusterUp()) return handle;
  const cacheWasWarm = cacheIsWarm();
  const { stdout, seconds } = await clusterAcquire();
  const startedByUs = /^# started: yes$/m.test(stdout);
  const env = parseEnv(stdout);
  handle = { ...env, startedByUs, upSeconds: startedByUs ? seconds : 0, cacheWasWarm, id: clusterId(env.kubeconfig) };
  return handle;
}

function clusterId(kubeconfig: string): string {
  return existsSync(kubeconfig) ? createHash('sha256').update(readFileSync(kubeconfig)).digest('hex') : '';
}

function userLines(): { pid: number; waiting: boolean }[] {
  return mustRunCluster(['users'])
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ pid: Number(l.split(' ')[0]), waiting: l.endsWith(' waiting') }));
}

/** PIDs of the live processes registered as users of the cluster. */
export function clusterUsers(): number[] {
  return userLines().map((u) => u.pid);
}

/** PIDs of other live processes registered as users of the cluster. */
export function otherUsers(): number[] {
  return clusterUsers().filter((pid) => pid !== process.pid);
}

/** How the running cluster was started: by a test (`acquire`), by hand (`up`), or not at all. */
export function clusterStartedThrough(): 'acquire' | 'up' | 'down' {
  const r = runCluster(['status']);
  if (r.status !== 0) return 'down';
  return /started through: acquire/.test(r.stdout) ? 'acquire' : 'up';
}

function lockPath(): string {
  return join(process.env['MOLT_K8S_CACHE'] ?? join(homedir(), '.cache', 'molt-k8s'), 'cluster.lock');
}

/** Holds the cluster lock (other processes' up/acquire/down wait) until releaseClusterLock(). */
function holdClusterLock(): Promise<void> {
  return new Promise((resolve, reject) => {
    // Its own process group, so releaseClusterLock() can end it synchronously; if this process
    // dies, cat sees end of input and the lock goes too.
    const child = spawn('flock', [lockPath(), '-c', 'echo locked; exec cat >/dev/null'], {
      stdio: ['pipe', 'pipe', 'inherit'],
      detached: true,
    });
    child.stdout.setEncoding('utf8');
    child.stdout.once('data', () => {
      lockHolder = child;
      resolve();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (lockHolder !== child) reject(new Error(`flock exited with ${code}`));
    });
  });
}

/**
 * Lets other processes change the cluster again. Synchronous on purpose: closing the pipe
 * would only take effect on a later event-loop turn, and a spawnSync before that turn (a
 * `cluster release`, say) would wait for the lock forever.
 */
export function releaseClusterLock(): void {
  const holder = lockHolder;
  lockHolder = undefined;
  if (!holder?.pid) return;
  try {
    process.kill(-holder.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  holder.stdin?.destroy();
}

/**
 * Waits until no other test process uses the cluster, then holds the cluster lock so that
 * none starts using it, for tests of the cluster's own lifecycle (down, restart). Others
 * waiting for the same do not count; the first to get the lock goes, and the rest find the
 * cluster they used gone. Resolves false if the cluster was started by hand, was replaced
 * meanwhile, or others still use it after timeoutMs.
 */
export async function takeClusterExclusively(timeoutMs = 20 * 60_000): Promise<boolean> {
  const h = handle;
  if (!h || runCluster(['mark-waiting', String(process.pid)]).status !== 0) return false;
  const deadline = Date.now() + timeoutMs;
  const busy = (): boolean => userLines().some((u) => u.pid !== process.pid && !u.waiting);
  const same = (): boolean => clusterId(h.kubeconfig) === h.id;
  while (Date.now() < deadline && same()) {
    if (busy()) {
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    await holdClusterLock();
    if (!busy() && same() && clusterStartedThrough() === 'acquire') return true;
    releaseClusterLock();
    if (clusterStartedThrough() === 'up') return false;
  }
  return false;
}

/** Re-runs ensureCluster() after a `down` by this process. */
export async function restartCluster(): Promise<ClusterHandle> {
  handle = undefined;
  return ensureCluster();
}

export function keepCluster(): boolean {
  return process.env['MOLT_K8S_KEEP'] === '1';
}

/**
 * `cluster down --force`: stops the cluster even if other test processes use it. Only for
 * tests of the cluster itself; shared test files use stopClusterIfStarted().
 */
export function stopCluster(): string {
  const r = runCluster(['down', '--force']);
  if (r.status !== 0) throw new Error(`test/k8s/cluster down failed (${r.status}):\n${r.stderr}`);
  handle = undefined;
  return r.stderr;
}

/**
 * Unregisters this process; stops the cluster if it was the last user, a test started the
 * cluster and MOLT_K8S_KEEP is not 1. Returns whether it stopped the cluster.
 */
export function stopClusterIfStarted(): boolean {
  if (!handle) return false;
  handle = undefined;
  const out = mustRunCluster(['release', String(process.pid)]);
  return /^# stopped: yes$/m.test(out);
}

function currentHandle(): ClusterHandle {
  if (handle) return handle;
  if (!isClusterUp()) throw new Error('the cluster is not up: call ensureCluster() first');
  const env = parseEnv(mustRunCluster(['env']));
  return { ...env, startedByUs: false, upSeconds: 0, cacheWasWarm: true, id: clusterId(env.kubeconfig) };
}

export interface KubectlOptions {
  input?: string;
  timeoutMs?: number;
}

/** Runs kubectl against the cluster and returns the result without throwing. */
export function kubectlResult(args: string[], opts: KubectlOptions = {}): RunResult {
  const h = currentHandle();
  // At least as long as kubectl's own --timeout allows; a hang is reported with the command and its stderr.
  const r = spawnSyncWithin(h.kubectlPath, args, kubectlLimitMs(args), opts.timeoutMs ?? 120_000, {
    input: opts.input,
    env: { ...process.env, KUBECONFIG: h.kubeconfig },
  });
  return { status: r.status === -1 ? 1 : r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs kubectl against the cluster; throws with its stderr when it fails. */
export function kubectl(args: string[], opts: KubectlOptions = {}): string {
  const r = kubectlResult(args, opts);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

/**
 * Server-side apply of the given manifest(s): one create-or-update request per object, so two
 * test files applying the same objects at once (the operator's CRDs) never race into
 * "AlreadyExists" as client-side apply's get-then-create does.
 */
export function apply(manifest: string, namespace?: string): string {
  const ns = namespace ? ['-n', namespace] : [];
  return kubectl([...ns, 'apply', '--server-side', '--force-conflicts', '--field-manager=molt-e2e', '-f', '-'], {
    input: manifest,
  });
}

/** Loads image archives (docker-archive or OCI tar) or podman image names into the node. */
export function loadImage(...imagesOrTars: string[]): void {
  mustRunCluster(['load-image', ...imagesOrTars]);
}

/** Builds a one-layer busybox image (Debian's busybox-static) as REF and loads it. */
export function buildAndLoadBusybox(ref: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'molt-k8s-img-'));
  try {
    const tar = join(dir, 'busybox.tar');
    mustRunCluster(['busybox-image', ref, tar]);
    loadImage(tar);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls fn until it returns a value other than undefined, or throws after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
