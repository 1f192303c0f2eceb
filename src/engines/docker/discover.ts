/**
 * Finding a container engine: the first socket that answers `_ping`, in this order —
 * `--engine` (exclusive: if given and silent, discovery fails rather than pick another
 * engine), CONTAINER_HOST, DOCKER_HOST, /run/podman/podman.sock,
 * $XDG_RUNTIME_DIR/podman/podman.sock, /var/run/docker.sock, then the Podman service molt
 * started earlier under its home. When none answers and `podman` is on PATH, molt starts
 * `podman system service` on `<moltHome>/podman.sock` (detached, logging to
 * `<moltHome>/podman-service.log`, pid in `<moltHome>/podman-service.pid`) and reuses it
 * next time. Addresses are unix sockets or `tcp://host:port`; a tcp address from the
 * environment or `--engine` uses TLS when DOCKER_TLS_VERIFY is set (Docker's convention,
 * certificates from DOCKER_CERT_PATH).
 */
import { accessSync, constants, existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { EngineUnavailableError } from '../../core/errors.ts';
import { DockerEngine } from './engine.ts';
import { engineAt, parseTcpAddress, tlsFromEnv, type EngineAddress } from './endpoint.ts';

/** node:fs/promises on first use: only starting a Podman service needs it (~2.5 ms of CPU in every command otherwise). */
const fsp = (): typeof import('node:fs/promises') => process.getBuiltinModule('node:fs/promises');

/**
 * The containers.conf molt gives the Podman service it starts (unless CONTAINERS_CONF is
 * set): what Podman needs on hosts without CAP_SYS_RESOURCE, crun or systemd. And
 * `exit_command_delay`: Podman keeps every exec session (two conmon processes, ~0.3 MiB) for
 * 300 s so Docker clients can inspect it later; molt reads the exit code as soon as the
 * output ends, and probes and hooks are execs — a fleet upgrade left thousands of them.
 */
export const PODMAN_CONTAINERS_CONF = `# Written by molt for the podman service it starts; delete it to get a fresh copy.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
exit_command_delay = 10
`;

/** The sockets tried after the environment variables, in order (XDG's only when set). */
export function wellKnownSockets(env: NodeJS.ProcessEnv): string[] {
  const sockets = ['/run/podman/podman.sock'];
  if (env.XDG_RUNTIME_DIR) sockets.push(join(env.XDG_RUNTIME_DIR, 'podman', 'podman.sock'));
  sockets.push('/var/run/docker.sock');
  return sockets;
}

/** Options of discoverEngine. */
export interface DiscoverOptions {
  /** The `--engine` value: `unix:///path` or a path. */
  engine?: string | undefined;
  /** molt's own directory (created 0700 when molt starts a service). */
  moltHome: string;
  /** Receives one line per notable step (for the user). */
  log: (message: string) => void;
  /** The environment to read. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Sockets tried after the environment variables. @default wellKnownSockets(env) */
  sockets?: string[];
  /** Global podman flags for a started service (e.g. `--root`), used by tests to isolate it. @default [] */
  podmanArgs?: string[];
  /** How long a started service may take to answer, in milliseconds. @default 10000 */
  startTimeoutMs?: number;
}

/** A Podman service molt runs under its home. */
export interface StartedService {
  pid: number;
  socket: string;
  /** True when it was started by an earlier molt run and found running. */
  reused: boolean;
}

/** The engine found, and the service molt started or reused to get it, if any. */
export interface DiscoveredEngine {
  engine: DockerEngine;
  startedService?: StartedService;
}

type Address = EngineAddress;

/** Parses an engine address: `unix:///path`, `unix:path`, a plain path or `tcp://host:port`; other schemes are refused. */
export function parseEngineAddress(value: string): Address {
  if (value.startsWith('unix://')) return socketPath(value.slice('unix://'.length), value);
  if (value.startsWith('unix:')) return socketPath(value.slice('unix:'.length), value);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === 'tcp') return parseTcpAddress(value);
  if (scheme === 'http' || scheme === 'https' || scheme === 'ssh') {
    return {
      problem: `${scheme}:// engines are not supported yet; use unix:///path/to/socket or tcp://host:port (TLS: DOCKER_TLS_VERIFY=1)`,
    };
  }
  if (scheme !== undefined)
    return { problem: `unknown address scheme ${scheme}://; use unix:///path/to/socket or tcp://host:port` };
  return socketPath(value, value);
}

function socketPath(path: string, original: string): Address {
  if (path === '') return { problem: `${original} names no socket path` };
  return { path: isAbsolute(path) ? path : resolve(path) };
}

/** Finds an answering engine, starting a Podman service when none answers. */
export async function discoverEngine(options: DiscoverOptions): Promise<DiscoveredEngine> {
  const env = options.env ?? process.env;
  if (options.engine !== undefined) return { engine: await explicitEngine(options.engine, env) };

  const tried: string[] = [];
  const candidates: Array<[string, string]> = [];
  for (const name of ['CONTAINER_HOST', 'DOCKER_HOST']) {
    const value = env[name];
    if (value) candidates.push([`${name}=${value}`, value]);
  }
  for (const socket of options.sockets ?? wellKnownSockets(env)) candidates.push([socket, socket]);

  for (const [label, value] of candidates) {
    const address = parseEngineAddress(value);
    if ('problem' in address) {
      options.log(`skipping ${label}: ${address.problem}`);
      tried.push(`${label} (${address.problem})`);
      continue;
    }
    const found = await tryAddress(address, env);
    if (typeof found !== 'string') return { engine: found };
    tried.push(`${label} (${found})`);
  }
  return startOrReuseService(options, env, tried);
}

async function explicitEngine(value: string, env: NodeJS.ProcessEnv): Promise<DockerEngine> {
  const address = parseEngineAddress(value);
  if ('problem' in address) throw new EngineUnavailableError(`--engine ${value}: ${address.problem}`);
  const found = await tryAddress(address, env);
  if (typeof found === 'string') throw new EngineUnavailableError(`--engine ${value}: ${found}`);
  return found;
}

/** The engine at a socket or tcp address when it answers, else why not (tcp: TLS per DOCKER_TLS_VERIFY). */
async function tryAddress(
  address: { path: string } | { tcp: { host: string; port: number } },
  env: NodeJS.ProcessEnv,
): Promise<DockerEngine | string> {
  if ('path' in address) return tryPing(address.path);
  let engine: DockerEngine;
  try {
    engine = engineAt(address, tlsFromEnv(env));
  } catch (error) {
    return (error as Error).message;
  }
  return pingEngine(engine, engine.socketPath);
}

/** The engine when the socket answers `_ping`, else why not. */
async function tryPing(path: string, timeoutMs = 3_000): Promise<DockerEngine | string> {
  return pingEngine(new DockerEngine({ socketPath: path }), path, timeoutMs);
}

async function pingEngine(engine: DockerEngine, path: string, timeoutMs = 3_000): Promise<DockerEngine | string> {
  try {
    await engine.ping(timeoutMs);
    return engine;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.replace(/^no container engine answers: /, '').replace(`${path}: `, '');
  }
}

async function startOrReuseService(
  options: DiscoverOptions,
  env: NodeJS.ProcessEnv,
  tried: string[],
): Promise<DiscoveredEngine> {
  const home = resolve(options.moltHome);
  const socket = join(home, 'podman.sock');
  const reused = await reuseService(home, socket, options);
  if (reused) return reused;
  tried.push(`unix://${socket} (no running service started by molt)`);

  const podman = findOnPath('podman', env.PATH ?? '');
  if (podman === undefined) {
    throw new EngineUnavailableError(
      `tried ${tried.join('; ')}; podman is not on PATH, so molt could not start a service`,
    );
  }
  await fsp().mkdir(home, { recursive: true, mode: 0o700 });
  await fsp().chmod(home, 0o700);
  const lock = join(home, 'podman-service.starting');
  if (!(await takeLock(lock))) return waitForOtherStarter(home, socket, options);
  try {
    const late = await reuseService(home, socket, options);
    if (late) return late;
    const started = await startService(podman, home, socket, options, env);
    return { engine: started.engine, startedService: { pid: started.pid, socket, reused: false } };
  } finally {
    await fsp().rm(lock, { recursive: true, force: true });
  }
}

/**
 * Seconds the Podman service molt starts keeps running without a request: long enough to
 * serve a session of commands, short enough that nothing lingers for ever (containers keep
 * running without it: Podman is daemonless).
 */
export const SERVICE_IDLE_SECONDS = 600;

/** The service an earlier molt started, when it still answers; a silent one is stopped. */
async function reuseService(
  home: string,
  socket: string,
  options: DiscoverOptions,
): Promise<DiscoveredEngine | undefined> {
  const pid = await readPid(join(home, 'podman-service.pid'));
  if (pid === undefined || !isOurService(pid, socket)) return undefined;
  const found = await tryPing(socket);
  if (typeof found !== 'string') {
    return { engine: found, startedService: { pid, socket, reused: true } };
  }
  options.log(`the podman service molt started earlier (pid ${pid}) does not answer; restarting it`);
  killGroup(pid);
  return undefined;
}

/** Takes a directory lock; a lock older than 30 s is left over by a crash and taken over. */
async function takeLock(lock: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fsp().mkdir(lock, { mode: 0o700 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age =
        Date.now() -
        (
          await fsp()
            .stat(lock)
            .catch(() => ({ mtimeMs: 0 }))
        ).mtimeMs;
      if (age < 30_000) return false;
      await fsp().rm(lock, { recursive: true, force: true });
    }
  }
  return false;
}

/** Another molt is starting the service right now: wait for it to answer. */
async function waitForOtherStarter(home: string, socket: string, options: DiscoverOptions): Promise<DiscoveredEngine> {
  options.log('another molt is starting the podman service; waiting for it');
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000) + 2_000;
  for (;;) {
    const found = await tryPing(socket, 1_000);
    if (typeof found !== 'string') {
      const pid = (await readPid(join(home, 'podman-service.pid'))) ?? 0;
      return { engine: found, startedService: { pid, socket, reused: true } };
    }
    if (Date.now() > deadline)
      throw new EngineUnavailableError(
        `another molt was starting the podman service at unix://${socket}, but it did not answer in time (${found})`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startService(
  podman: string,
  home: string,
  socket: string,
  options: DiscoverOptions,
  env: NodeJS.ProcessEnv,
): Promise<{ pid: number; engine: DockerEngine }> {
  const childEnv: NodeJS.ProcessEnv = { ...env };
  delete childEnv.CONTAINER_HOST;
  if (!env.CONTAINERS_CONF) {
    const conf = join(home, 'containers.conf');
    if (!existsSync(conf)) {
      await fsp().writeFile(conf, PODMAN_CONTAINERS_CONF, { mode: 0o600 });
      options.log(`wrote ${conf} (ulimits, runc, cgroupfs, file events) for the podman service`);
    }
    childEnv.CONTAINERS_CONF = conf;
  }
  await fsp().rm(socket, { force: true });
  const logPath = join(home, 'podman-service.log');
  const logFd = openSync(logPath, 'a', 0o600);
  const args = [
    ...(options.podmanArgs ?? []),
    'system',
    'service',
    `--time=${SERVICE_IDLE_SECONDS}`,
    `unix://${socket}`,
  ];
  // cwd: molt's home — conmon writes an `oom` file into its working directory when a container
  // is OOM-killed, which would otherwise land wherever the user ran molt.
  // node:child_process loads only when a service must be started (most runs find one).
  const child = process
    .getBuiltinModule('node:child_process')
    .spawn(podman, args, { detached: true, stdio: ['ignore', logFd, logFd], env: childEnv, cwd: home });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) {
    throw new EngineUnavailableError(`could not start ${podman} ${args.join(' ')}`);
  }
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });
  child.on('error', (error) => {
    exited = error.message;
  });
  child.unref();
  await fsp().writeFile(join(home, 'podman-service.pid'), `${pid}\n`, { mode: 0o600 });

  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  let engine: DockerEngine | string;
  while (typeof (engine = await tryPing(socket, 1_000)) === 'string') {
    if (exited !== undefined || Date.now() > deadline) {
      if (exited === undefined) killGroup(pid);
      const why = exited ?? `did not answer within ${(options.startTimeoutMs ?? 10_000) / 1000} s`;
      throw new EngineUnavailableError(
        `started \`podman system service\` (pid ${pid}) but it ${why}; its log ${logPath} says: ${tail(logPath)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await fsp().chmod(socket, 0o600);
  options.log(
    `started a podman service (pid ${pid}) at unix://${socket}; log: ${logPath}; it stops by itself after ${SERVICE_IDLE_SECONDS}s unused (or: \`kill -- -${pid}\`)`,
  );
  return { pid, engine };
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await fsp().readFile(file, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and is a podman service on `socket` (not a recycled pid). */
function isOurService(pid: number, socket: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes('service') && cmdline.includes(`unix://${socket}`);
  } catch {
    return false;
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/** The first executable `name` on PATH. */
export function findOnPath(name: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function tail(file: string): string {
  try {
    const text = readFileSync(file, 'utf8').trim();
    return text === '' ? '(empty)' : text.split('\n').slice(-5).join(' | ');
  } catch {
    return '(unreadable)';
  }
}
