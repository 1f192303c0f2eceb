/**
 * Runs one target of a task: decide (core/task.ts), act through the app-level `applyApp` —
 * so locking, journaling and rollback are the app's own — and record the outcome and the
 * step statuses in the task. The outcome is read back from the app's journal (the operations
 * after the target's baseline), not remembered, so it is the same whether the worker saw the
 * operation end or a later worker finds it ended, in flight, or never started.
 */
import { InterruptedError, MoltError, toErrorRecord } from '../core/errors.ts';
import { decideNonInlineTarget, decideTarget, type UpgradeTaskSpec } from '../core/task.ts';
import { runAttempts } from '../core/task-scheduler.ts';
import {
  entryOfStep,
  outcomeOfOperation,
  settleEntry,
  shouldRetry,
  TASK_PRECHECK_STEP,
  waitingEntry,
  type TargetOutcome,
} from '../core/task-progress.ts';
import type { Store } from '../store/store.ts';
import type { TargetRecord, TaskStore } from '../store/task-store.ts';
import type { OperationRecord } from '../store/types.ts';
import { applyApp, recoverApp } from './app-service.ts';
import type { RunDeps } from './run-operation.ts';
import { nonInlineKind } from './task-apps.ts';
import { killPoint } from '../testing/test-hooks.ts';
import type { Endpoint } from './task-endpoints.ts';

/** What running one target needs. */
export interface TargetContext {
  task: string;
  spec: UpgradeTaskSpec;
  tasks: TaskStore;
  endpoint: Endpoint;
  /** Aborted when the worker stops or the task is cancelled: in-flight work rolls back. */
  signal: AbortSignal;
  /** Seconds one attempt may take (spec.options.timeout). */
  timeoutSeconds: number;
  /** Step-level lines (verbose). */
  log: (line: string) => void;
  /** Target-level notices (always shown). */
  progress: (line: string) => void;
  /** Called when a failed attempt is tried again. */
  onRetry: (t: TargetRecord, outcome: TargetOutcome) => void;
}

/** Store methods that write the step journal: the task mirrors each write at once. */
const STEP_WRITES = new Set<PropertyKey>(['startStep', 'finishStep', 'markInterruptedSteps']);

/**
 * The store as the app runner sees it, calling `onStepWrite` right after every step-journal
 * write: so a Waiting entry exists as soon as a step starts and is replaced the moment it
 * ends, without the app runner knowing about tasks. Methods run bound to the real store.
 */
function observeSteps(store: Store, onStepWrite: () => void): Store {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(target);
      if (!STEP_WRITES.has(prop)) return bound;
      return (...args: unknown[]) => {
        const result = bound(...args);
        onStepWrite();
        return result;
      };
    },
  });
}

/**
 * Runs the target to a settled phase. A target a previous worker left Running is resumed
 * first; if that worker never got to start an operation, the attempt is simply made again
 * (or, when the task is stopping, the target goes back to Pending).
 */
export function runTarget(ctx: TargetContext, start: TargetRecord): Promise<TargetRecord> {
  return runAttempts(start, {
    resume: async (t) => {
      const resumed = await resumeTarget(ctx, t);
      if (resumed.phase !== 'Running') return { settled: resumed };
      const again = { ...resumed, attempts: resumed.attempts - 1 };
      if (!ctx.signal.aborted) return { again };
      const pending: TargetRecord = { ...again, phase: 'Pending', message: '' };
      ctx.tasks.saveTarget(ctx.task, pending);
      return { settled: pending };
    },
    attempt: (t) => attempt(ctx, t),
    again: (t) => shouldRetry(t, t.attempts, ctx.spec.options.retries) && !ctx.signal.aborted,
    onRetry: (t) => ctx.onRetry(t, t),
    halted: () => false,
  });
}

/** One attempt: journal Running with the baseline, decide, upgrade, read the outcome back. */
async function attempt(ctx: TargetContext, from: TargetRecord): Promise<TargetRecord> {
  const store = ctx.endpoint.store;
  const now = new Date().toISOString();
  const attempts = from.attempts + 1;
  let t: TargetRecord = {
    ...from,
    phase: 'Running',
    attempts,
    baselineOperation: latestOperationId(store, from.app),
    startTime: from.startTime ?? now,
    completedTime: undefined,
    reason: '',
    message: 'deciding',
  };
  killPoint('StartTarget', 'before');
  ctx.tasks.saveTarget(ctx.task, t);
  killPoint('StartTarget', 'after');
  const preKey = `pre:${attempts}`;
  const pre = waitingEntry(t.target, TASK_PRECHECK_STEP, now, 'checking the version guard and upgrade rules');
  ctx.tasks.upsertStatus(ctx.task, preKey, pre);
  const installed = store.getApp(t.app)?.manifest;
  const special = nonInlineKind(store, t.app);
  const decision = special ? decideNonInlineTarget(ctx.spec, t.app, special) : decideTarget(ctx.spec, t.app, installed);
  const at = new Date().toISOString();
  t = { ...t, fromVersion: installed?.spec.version, toVersion: ctx.spec.toVersion };
  if (decision.action !== 'upgrade') {
    const skipped = decision.action === 'skip';
    ctx.tasks.upsertStatus(
      ctx.task,
      preKey,
      settleEntry(
        pre,
        at,
        skipped
          ? { phase: 'Completed', message: decision.message }
          : { phase: 'Errored', reason: decision.reason, message: decision.message },
      ),
    );
    return settle(ctx, t, {
      phase: skipped ? 'Skipped' : 'Refused',
      reason: decision.reason,
      message: decision.message,
    });
  }
  ctx.tasks.upsertStatus(
    ctx.task,
    preKey,
    settleEntry(pre, at, {
      phase: 'Completed',
      message: [decision.message, ...decision.warnings.map((w) => `WARNING: ${w}`)].join('; '),
    }),
  );
  t = { ...t, message: `upgrading ${decision.message}` };
  ctx.tasks.saveTarget(ctx.task, t);
  return settle(ctx, t, await act(ctx, t, (deps) => applyApp(deps, decision.manifest).then(() => undefined)));
}

/** A target a stopped worker left Running: finish or roll back what it had in flight. */
async function resumeTarget(ctx: TargetContext, t: TargetRecord): Promise<TargetRecord> {
  const ours = operationsAfter(ctx.endpoint.store, t);
  if (ours.length === 0) return t;
  const last = ours.at(-1);
  const where = last && 'step' in last.state ? `was in flight at ${last.state.step}` : `had ended ${last?.state.phase}`;
  ctx.progress(`${t.target}: resuming: operation ${last?.id} of the previous run ${where}`);
  const outcome = await act(ctx, t, async (deps) => {
    if (ours.some((o) => o.finishedAt === undefined)) await recoverApp(deps, t.app);
  });
  return settle(ctx, t, outcome);
}

/**
 * Runs `work` against the endpoint with the worker's signal plus the per-attempt deadline,
 * mirroring each step-journal write into the task's detailed statuses as it happens, then reads
 * the outcome from the journal. Errors thrown by `work` (busy app, engine down, a rollback
 * that could not finish) become outcomes too.
 */
async function act(
  ctx: TargetContext,
  t: TargetRecord,
  work: (deps: RunDeps) => Promise<void>,
): Promise<TargetOutcome & { operation?: number }> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(ctx.signal.reason);
  if (ctx.signal.aborted) onAbort();
  else ctx.signal.addEventListener('abort', onAbort, { once: true });
  const deadline = setTimeout(
    () =>
      controller.abort(
        new InterruptedError('Timeout', `not done within ${ctx.timeoutSeconds}s (spec.options.timeout)`),
      ),
    ctx.timeoutSeconds * 1000,
  );
  const seen = new Map<string, string>();
  const store = observeSteps(ctx.endpoint.store, () => syncSteps(ctx, t, seen));
  let thrown: unknown;
  try {
    const engine = await ctx.endpoint.engine();
    await work({
      engine,
      store,
      home: ctx.endpoint.home,
      signal: controller.signal,
      log: (line) => ctx.log(`[${t.target}] ${line}`),
    });
  } catch (e) {
    thrown = e;
  } finally {
    clearTimeout(deadline);
    ctx.signal.removeEventListener('abort', onAbort);
    syncSteps(ctx, t, seen);
  }
  return outcomeFromJournal(ctx.endpoint.store, t, thrown);
}

/** The target's outcome as the app's journal shows it. */
function outcomeFromJournal(store: Store, t: TargetRecord, thrown: unknown): TargetOutcome & { operation?: number } {
  const last = operationsAfter(store, t).at(-1);
  const error = thrown === undefined ? undefined : toErrorRecord(thrown);
  if (!last) {
    if (!error)
      return {
        phase: 'Skipped',
        reason: 'AlreadyAtTarget',
        message: 'nothing to do: the app already matched the target',
      };
    return {
      phase: 'Aborted',
      reason: error.code,
      message: `${error.message}; nothing was changed${thrown instanceof MoltError ? ` (hint: ${thrown.hint})` : ''}`,
    };
  }
  const outcome = outcomeOfOperation(last.state, last.toVersion);
  if (last.finishedAt === undefined && error)
    return { ...outcome, reason: error.code, message: `${error.message}; ${outcome.message}`, operation: last.id };
  return { ...outcome, operation: last.id };
}

/** Records a settled outcome. */
function settle(ctx: TargetContext, t: TargetRecord, outcome: TargetOutcome & { operation?: number }): TargetRecord {
  const done: TargetRecord = {
    ...t,
    phase: outcome.phase,
    reason: outcome.reason,
    message: outcome.message,
    completedTime: new Date().toISOString(),
    ...(outcome.operation !== undefined ? { operation: outcome.operation } : {}),
  };
  killPoint('SettleTarget', 'before');
  ctx.tasks.saveTarget(ctx.task, done);
  killPoint('SettleTarget', 'after');
  return done;
}

/** Mirrors the journaled steps of the target's operations into detailed statuses (only what changed). */
function syncSteps(ctx: TargetContext, t: TargetRecord, seen: Map<string, string>): void {
  for (const op of operationsAfter(ctx.endpoint.store, t)) {
    for (const step of ctx.endpoint.store.listSteps(op.id)) {
      const key = `op${op.id}:${step.id}`;
      const entry = entryOfStep(t.target, step);
      const text = JSON.stringify(entry);
      if (seen.get(key) === text) continue;
      ctx.tasks.upsertStatus(ctx.task, key, entry);
      seen.set(key, text);
    }
  }
}

/** The app's operations started after the target's baseline: the ones this task ran. */
function operationsAfter(store: Store, t: TargetRecord): OperationRecord[] {
  return store.listOperations(t.app).filter((o) => o.id > (t.baselineOperation ?? 0));
}

/** The app's newest operation id (0 when it has none). */
function latestOperationId(store: Store, app: string): number {
  return store.listOperations(app).at(-1)?.id ?? 0;
}
