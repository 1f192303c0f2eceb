/**
 * Shared pieces of the benchmarks: running molt (bin/molt, as users run it: the bundle when it
 * is fresh) or any Node program as a child, with its own CPU time and peak RSS.
 */
import { spawn } from 'node:child_process';
import type { PodmanHarness } from '../test/e2e/harness.ts';

const MOLT = new URL('../bin/molt', import.meta.url).pathname;
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
  const env = { ...process.env, ...h.env, CONTAINER_HOST: `unix://${h.socket}`, MOLT_HOME: home, ...options.env };
  return measure(MOLT, args, env, options.allowFailure ?? false);
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
