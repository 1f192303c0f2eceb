/**
 * Fault injection for tests: with MOLT_TEST_HOOKS=1, MOLT_TEST_KILL_AT=<Step>[:before|:after]
 * makes molt SIGKILL itself at that step boundary, so tests can prove that a re-run finishes
 * or rolls back. Without MOLT_TEST_HOOKS=1 nothing here ever fires.
 */

/** Kills this process when the test hook names this step boundary. */
export function killPoint(step: string, when: 'before' | 'after'): void {
  if (process.env.MOLT_TEST_HOOKS !== '1') return;
  const target = process.env.MOLT_TEST_KILL_AT;
  if (!target) return;
  const [name, at = 'before'] = target.split(':');
  if (name === step && at === when) process.kill(process.pid, 'SIGKILL');
}
