/**
 * Fault injection for tests, at step boundaries. Without MOLT_TEST_HOOKS=1 nothing here ever
 * fires. With it:
 * - MOLT_TEST_KILL_AT=<Step>[:before|:after] makes molt SIGKILL itself at that boundary, so
 *   tests can prove that a re-run finishes or rolls back;
 * - MOLT_TEST_PAUSE_AT=<Step>[:before|:after] with MOLT_TEST_RESUME_FILE=<path> makes molt
 *   stop there (once per process) until <path> exists, so a test can inject a fault (kill the
 *   engine, remove an image, kill a container) at that exact boundary. While paused, molt
 *   has written `<path>.paused` (holding "<Step>:<when> <pid>") and blocks entirely: its
 *   event loop does not run, so nothing it does can race with the test.
 * `before` is the default; `after` is after the step ran, before its outcome is journaled.
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';

let paused = false;

/** Runs the test hooks of this step boundary: a pause first, then a kill. */
export function killPoint(step: string, when: 'before' | 'after'): void {
  if (process.env.MOLT_TEST_HOOKS !== '1') return;
  if (!paused && matches(process.env.MOLT_TEST_PAUSE_AT, step, when)) pauseHere(step, when);
  if (matches(process.env.MOLT_TEST_KILL_AT, step, when)) process.kill(process.pid, 'SIGKILL');
}

function matches(target: string | undefined, step: string, when: 'before' | 'after'): boolean {
  if (!target) return false;
  const [name, at = 'before'] = target.split(':');
  return name === step && at === when;
}

/** Blocks this process until the resume file exists. */
function pauseHere(step: string, when: 'before' | 'after'): void {
  const resume = process.env.MOLT_TEST_RESUME_FILE;
  if (!resume) throw new Error('MOLT_TEST_PAUSE_AT needs MOLT_TEST_RESUME_FILE');
  paused = true;
  writeFileSync(`${resume}.paused.tmp`, `${step}:${when} ${process.pid}\n`);
  renameSync(`${resume}.paused.tmp`, `${resume}.paused`);
  process.stderr.write(`test hook: paused ${when} ${step}; waiting for ${resume}\n`);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(resume)) Atomics.wait(cell, 0, 0, 20);
}
