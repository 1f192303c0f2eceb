/**
 * The operator's step boundaries for fault injection (testing/test-hooks.ts `killPoint`:
 * MOLT_TEST_HOOKS=1 + MOLT_TEST_KILL_AT=<point>[:before|:after] SIGKILLs the process there, at
 * the first pass). A step passed more than once on a path (the second member's restart, the
 * template switched back by a rollback) is reached with `MOLT_TEST_KILL_AT=<point>:<when>@<n>`:
 * the n-th pass in this process. With the hooks on, every boundary passed is also logged as
 * `{"killpoint":"<point>:<when>"}` on stderr, so a test's reference run learns the path.
 * Without MOLT_TEST_HOOKS=1 nothing here does anything.
 */
import { killPoint } from '../../testing/test-hooks.ts';

const passes = new Map<string, number>();

/** Passes one boundary: logs it (test hooks on) and dies there if the test asks for it. */
export function boundary(point: string, when: 'before' | 'after'): void {
  if (process.env['MOLT_TEST_HOOKS'] !== '1') return;
  const key = `${point}:${when}`;
  const n = (passes.get(key) ?? 0) + 1;
  passes.set(key, n);
  process.stderr.write(`${JSON.stringify({ killpoint: key })}\n`);
  const nth = /^(.+)@(\d+)$/.exec(process.env['MOLT_TEST_KILL_AT'] ?? '');
  if (nth) {
    if (nth[1] === key && Number(nth[2]) === n) process.kill(process.pid, 'SIGKILL');
    return;
  }
  killPoint(point, when);
}
