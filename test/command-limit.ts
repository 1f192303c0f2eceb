/**
 * How long the test harness waits for a command it runs (issue 19): never less than the
 * command may legitimately take — its own `--timeout`, else that command's default — plus a
 * grace for what it does after its deadline (a molt that times out still rolls back, which is
 * not interruptible). A harness that gives up says which command hung, after how long, and
 * shows its stderr, instead of a bare status -1.
 *
 * The defaults below are molt's own (src/cli/main.ts, src/cli/task-commands.ts);
 * test/e2e/command-limit.test.ts checks them against `molt <command> --help`.
 */
import { spawnSync, type SpawnSyncOptionsWithStringEncoding } from 'node:child_process';

/** molt commands with a time limit, and its default. */
export const MOLT_DEFAULT_TIMEOUTS: Readonly<Record<string, string>> = {
  apply: '10m',
  rollback: '10m',
  resume: '30m',
  'task cancel': '10m',
};

/** kubectl commands whose default wait is bounded, and that bound (`kubectl wait`: 30s). */
const KUBECTL_DEFAULT_TIMEOUTS: Readonly<Record<string, string>> = { wait: '30s' };

/** kubectl's global options that take a value (before the verb). */
const KUBECTL_VALUE_OPTIONS = new Set([
  '-n',
  '--namespace',
  '--context',
  '--kubeconfig',
  '--cluster',
  '--user',
  '-s',
  '--server',
]);

/** What a command may still do after its own deadline (roll back, report) before the harness gives up. */
export const GRACE_MS = 120_000;

/** molt's global options that take a value (they come before the command). */
const MOLT_VALUE_OPTIONS = new Set(['--engine', '--home', '--kubeconfig', '--context', '-n', '--namespace']);

/** A duration as molt (90, 90s, 10m, 1h) or kubectl (Go: 1m30s, 500ms) writes it, in ms; undefined if not one. */
export function durationMs(text: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return parts.reduce((sum, p) => sum + Number(p[1]) * (unit[p[2] ?? 's'] ?? 0), 0);
}

/** The value of `--timeout X` / `--timeout=X` in args, in ms. */
export function timeoutFlagMs(args: readonly string[]): number | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--timeout') return durationMs(args[i + 1] ?? '');
    if (a.startsWith('--timeout=')) return durationMs(a.slice('--timeout='.length));
  }
  return undefined;
}

/** The command words of a molt invocation (`apply`, `task cancel`), global options skipped. */
export function moltCommand(args: readonly string[]): string {
  const words: string[] = [];
  for (let i = 0; i < args.length && words.length < 2; i++) {
    const a = args[i] ?? '';
    if (MOLT_VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith('-')) {
      words.push(a);
      if (a !== 'task') break;
    }
  }
  return words.join(' ');
}

/** How long `molt ARGS` may legitimately run, in ms; undefined when it has no limit of its own. */
export function moltLimitMs(args: readonly string[]): number | undefined {
  const fallback = MOLT_DEFAULT_TIMEOUTS[moltCommand(args)];
  return timeoutFlagMs(args) ?? (fallback === undefined ? undefined : durationMs(fallback));
}

/** How long `kubectl ARGS` may legitimately run, in ms; undefined when it has no limit of its own. */
export function kubectlLimitMs(args: readonly string[]): number | undefined {
  const verb = args.find((a, i) => !a.startsWith('-') && !KUBECTL_VALUE_OPTIONS.has(args[i - 1] ?? ''));
  const fallback = verb === undefined ? undefined : KUBECTL_DEFAULT_TIMEOUTS[verb];
  return timeoutFlagMs(args) ?? (fallback === undefined ? undefined : durationMs(fallback));
}

/** The harness's wait for a command limited to `limitMs`: at least `floorMs`, and the limit plus GRACE_MS. */
export function harnessWaitMs(limitMs: number | undefined, floorMs: number): number {
  return Math.max(floorMs, limitMs === undefined ? 0 : limitMs + GRACE_MS);
}

/** The error a harness reports when it had to kill a command. */
export class HarnessTimeout extends Error {
  constructor(command: string, args: readonly string[], waitedMs: number, limitMs: number | undefined, stderr: string) {
    const limit = limitMs === undefined ? 'it has no time limit of its own' : `its own limit was ${limitMs / 1000}s`;
    super(
      `the test harness killed \`${[command, ...args].join(' ')}\` after ${waitedMs / 1000}s (${limit}); its stderr:\n${stderr.trimEnd() || '(empty)'}`,
    );
    this.name = 'HarnessTimeout';
  }
}

/**
 * spawnSync that waits `harnessWaitMs(limitMs, floorMs)` and throws a HarnessTimeout naming
 * the command and its stderr when it had to kill it; else status (-1 only for a signal), stdout, stderr.
 */
export function spawnSyncWithin(
  command: string,
  args: string[],
  limitMs: number | undefined,
  floorMs: number,
  options: Omit<SpawnSyncOptionsWithStringEncoding, 'encoding' | 'timeout'> = {},
): { status: number; stdout: string; stderr: string } {
  const waitMs = harnessWaitMs(limitMs, floorMs);
  const r = spawnSync(command, args, { maxBuffer: 64 * 1024 * 1024, ...options, encoding: 'utf8', timeout: waitMs });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT')
    throw new HarnessTimeout(command, args, waitMs, limitMs, r.stderr ?? '');
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
