/**
 * Shared pieces of the benchmarks: running molt (bin/molt, as users run it: the bundle when it
 * is fresh) or any Node program as a child, with its own CPU time and peak RSS.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { PodmanHarness } from '../test/e2e/harness.ts';

/** bin/molt, as users run it. */
export const MOLT_BIN = new URL('../bin/molt', import.meta.url).pathname;
const HOOK = new URL('./rusage-hook.mjs', import.meta.url).pathname;

/** CPU time and peak RSS of one process. */
export interface MoltUsage {
  userMs: number;
  systemMs: number;
  maxRssKiB: number;
  wallMs: number;
}

/** Runs `molt ARGS` against the harness; resolves with its resource usage, rejects on failure. */
export function runMolt(
  h: PodmanHarness,
  home: string,
  args: string[],
  options: { allowFailure?: boolean; env?: Record<string, string> } = {},
): Promise<MoltUsage & { code: number }> {
  return measure(MOLT_BIN, args, { ...moltEnv(h, home), ...options.env }, options.allowFailure ?? false);
}

/** The environment molt runs with against the harness's engine, its state in `home`. */
export function moltEnv(h: PodmanHarness, home: string): NodeJS.ProcessEnv {
  return { ...process.env, ...h.env, CONTAINER_HOST: `unix://${h.socket}`, MOLT_HOME: home };
}

/** Runs a Node program (`node ARGS`) the same way, for the baselines (`node -e 0`). */
export function runNode(args: string[]): Promise<MoltUsage & { code: number }> {
  return measure(process.execPath, args, { ...process.env }, false);
}

function measure(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  allowFailure: boolean,
): Promise<MoltUsage & { code: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --import=${HOOK}`.trim() },
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    let err = '';
    let usage = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (usage += d.toString()));
    child.once('close', (code) => {
      if (code !== 0 && !allowFailure)
        return reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${err}`));
      if (!usage) return reject(new Error(`${cmd} ${args.join(' ')} reported no resource usage:\n${err}`));
      resolve({ ...JSON.parse(usage), wallMs: performance.now() - started, code: code ?? 1 });
    });
  });
}

/** The median of some numbers (NaN for none). */
export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** CPU milliseconds (user + system) of a usage. */
export const cpuMs = (u: { userMs: number; systemMs: number }): number => u.userMs + u.systemMs;

/**
 * Instructions a command executes, counted by valgrind (cachegrind without its cache model):
 * unlike CPU time, the same on a busy machine as on a quiet one (within ~2 %), so start-up
 * ratios can be compared across runs. Follows the launcher's exec into Node like the CPU
 * figures do, and, like them, leaves out the processes molt starts (tar, the engine).
 * Needs valgrind (`valgrindInstalled`).
 */
export async function countInstructions(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const valgrindArgs = [
    '--tool=cachegrind',
    '--cache-sim=no',
    '--cachegrind-out-file=/dev/null',
    // Node's JIT writes code it then runs: valgrind must see code change on the heap.
    '--smc-check=all-non-file',
    '--trace-children=yes',
    '--trace-children-skip=*/tar,*/find,*/readlink,*/podman,*/conmon,*/runc',
    cmd,
    ...args,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('valgrind', valgrindArgs, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('close', (code) => {
      const counts = [...err.matchAll(/I\s+refs:\s+([\d,]+)/g)].map((m) => Number(m[1]?.replaceAll(',', '')));
      if (code !== 0 || counts.length === 0)
        return reject(new Error(`valgrind ${cmd} ${args.join(' ')} failed (exit ${code}):\n${err.slice(-2000)}`));
      resolve(counts.reduce((a, b) => a + b, 0));
    });
  });
}

let valgrind: boolean | undefined;
/** Whether valgrind can be run here (asked once). */
export function valgrindInstalled(): boolean {
  valgrind ??= spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status === 0;
  return valgrind;
}
