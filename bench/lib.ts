/** Shared pieces of the benchmarks: running molt as a child with its resource usage. */
import { spawn } from 'node:child_process';
import type { PodmanHarness } from '../test/e2e/harness.ts';

const NODE = process.execPath;
const RUSAGE = new URL('./molt-rusage.ts', import.meta.url).pathname;

/** CPU time and peak RSS of one molt process. */
export interface MoltUsage { userMs: number; systemMs: number; maxRssKiB: number; wallMs: number }

/** Runs `molt ARGS` against the harness; resolves with its resource usage, rejects on failure. */
export function runMolt(h: PodmanHarness, home: string, args: string[]): Promise<MoltUsage> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, ['--disable-warning=ExperimentalWarning', RUSAGE, ...args], {
      env: { ...process.env, ...h.env, CONTAINER_HOST: `unix://${h.socket}`, MOLT_HOME: home },
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    let err = '';
    let usage = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (usage += d.toString()));
    child.once('close', (code) => (code === 0 ? resolve({ ...JSON.parse(usage), wallMs: performance.now() - started }) : reject(new Error(`molt ${args.join(' ')} failed:\n${err}`))));
  });
}

/** The median of some numbers (NaN for none). */
export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}
