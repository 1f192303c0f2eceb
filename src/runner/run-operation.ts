/**
 * Drives one operation through the upgrade state machine: journal the intent, act, record the
 * outcome, transition. The state is saved before each step acts, so a killed molt resumes
 * where it stopped. Interrupts and deadlines turn into a rollback; the rollback itself is not
 * interruptible by them.
 */
import { InterruptedError, MoltError, RollbackIncompleteError, ScriptError, toErrorRecord } from '../core/errors.ts';
import { abort, isFinal, transition, type OperationState, type StepName } from '../core/upgrade-machine.ts';
import type { ContainerEngine } from '../engines/types.ts';
import type { Store } from '../store/store.ts';
import type { OperationRecord } from '../store/types.ts';
import { publishStatus } from './publish-status.ts';
import { STEPS } from './steps.ts';
import { killPoint } from '../testing/test-hooks.ts';

/** What running an operation needs. */
export interface RunDeps {
  engine: ContainerEngine;
  store: Store;
  /** Progress lines for the user (stderr). */
  log: (line: string) => void;
  /** Aborted on Ctrl-C or when the deadline passes; triggers a rollback. */
  signal: AbortSignal;
  /** molt's home directory (scripts and snapshots are kept below it). */
  home: string;
}

const FORWARD_ATTEMPTS = 3;
const ROLLBACK_ATTEMPTS = 6;

/** Runs `op` until it is final. Throws RollbackIncompleteError if a rollback step keeps failing. */
export async function runOperation(deps: RunDeps, op: OperationRecord): Promise<OperationRecord> {
  deps.store.markInterruptedSteps(op.id);
  let state = op.state;
  const facts = { ...op.facts };
  publishStatus(deps.store, op, state, facts);
  while (!isFinal(state)) {
    const current = state as Extract<OperationState, { step: StepName }>;
    const rollingBack = current.phase === 'RollingBack';
    killPoint(current.step, 'before');
    const stepId = deps.store.startStep(op.id, current.step, rollingBack);
    const started = Date.now();
    deps.log(`${rollingBack ? '↩' : '→'} ${current.step}`);
    const signal = rollingBack ? new AbortController().signal : deps.signal;
    let outcome: Parameters<Store['finishStep']>;
    try {
      const result = await withAttempts(rollingBack ? ROLLBACK_ATTEMPTS : FORWARD_ATTEMPTS, signal, () =>
        STEPS[current.step]({
          engine: deps.engine,
          op,
          facts,
          signal,
          home: deps.home,
          store: deps.store,
          log: (l) => deps.log(`    ${l}`),
        }),
      );
      const message = typeof result === 'string' ? result : result.message;
      outcome = [stepId, 'Completed', message, typeof result === 'string' ? '' : result.output];
      deps.log(`  ✓ ${current.step} (${seconds(started)}): ${message}`);
      state = transition(op.kind, current, { type: 'StepSucceeded' });
    } catch (thrown) {
      const error = toErrorRecord(deps.signal.aborted && !rollingBack ? interruptionOf(deps.signal, thrown) : thrown);
      outcome = [
        stepId,
        'Failed',
        `${error.code}: ${error.message}`,
        thrown instanceof ScriptError ? thrown.output : '',
      ];
      deps.log(`  ✗ ${current.step} (${seconds(started)}): ${error.code}: ${error.message}`);
      if (rollingBack) {
        deps.store.transaction(() => {
          deps.store.finishStep(...outcome);
          deps.store.saveOperationState(op.id, current, facts, false);
        });
        throw new RollbackIncompleteError(op.app, `${current.step}: ${error.message}`, { cause: thrown });
      }
      state = transition(op.kind, current, { type: 'StepFailed', error });
    }
    killPoint(current.step, 'after');
    // The step's outcome, the next state and the app's status in one commit (one fsync, not
    // three: between StopOld and StartNew the app is down).
    deps.store.transaction(() => {
      deps.store.finishStep(...outcome);
      deps.store.saveOperationState(op.id, state, facts, isFinal(state));
      publishStatus(deps.store, op, state, facts);
    });
  }
  return { ...op, state, facts };
}

/** Marks an operation as failed from outside (e.g. interrupted before its first step ran). */
export function abortOperation(store: Store, op: OperationRecord, error: MoltError): OperationRecord {
  const state = abort(op.kind, op.state, error.toJSON());
  store.saveOperationState(op.id, state, op.facts, isFinal(state));
  return { ...op, state };
}

/** Retries retryable failures with a doubling pause; gives up at once on terminal ones. */
async function withAttempts<T>(attempts: number, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (signal.aborted) throw signal.reason;
      return await fn();
    } catch (e) {
      const retryable = e instanceof MoltError && e.retryable;
      if (!retryable || attempt >= attempts || signal.aborted) throw e;
      await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
    }
  }
}

function interruptionOf(signal: AbortSignal, thrown: unknown): unknown {
  return signal.reason instanceof InterruptedError ? signal.reason : thrown;
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}
