/**
 * The operator's step boundaries for fault injection (runner/test-hooks.ts `killPoint`:
 * MOLT_TEST_HOOKS=1 + MOLT_TEST_KILL_AT=<point>[:before|:after] SIGKILLs the process there).
 * With the hooks on, every boundary passed is also logged as `{"killpoint":"<point>:<when>"}`
 * on stderr, so a test's reference run learns which points a path reaches. Without
 * MOLT_TEST_HOOKS=1 nothing here does anything.
 */
import { killPoint } from '../../runner/test-hooks.ts';

/** Passes one boundary: logs it (test hooks on) and dies there if the test asks for it. */
export function boundary(point: string, when: 'before' | 'after'): void {
  if (process.env['MOLT_TEST_HOOKS'] !== '1') return;
  process.stderr.write(`${JSON.stringify({ killpoint: `${point}:${when}` })}\n`);
  killPoint(point, when);
}
