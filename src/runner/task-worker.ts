/**
 * The task worker: runs an UpgradeTask to its end. It claims the task (one worker at a time),
 * marks it Started, journals the selected targets (fixed at the first run), then upgrades
 * them `concurrency` at a time through `runTarget`. It starts no new target once the failed
 * share exceeds `maxFailureRatio` or the task is cancelled; what is in flight then finishes
 * (ratio) or rolls back (cancel). Everything is written before it is acted on, so a worker
 * that dies is simply run again: targets it left Running are finished or rolled back from
 * the app journal, settled ones are never touched again.
 *
 * Stopping the worker (SIGTERM/SIGINT without a cancel request) rolls back what is in flight
 * and puts those targets back to Pending: the task stays Started and the next run continues.
 */
import { InterruptedError } from '../core/errors.ts';
import { schedule } from '../core/task-scheduler.ts';
import { durationSeconds, selectApps } from '../core/task.ts';
import {
  countTargets,
  failureRatioExceeded,
  finalPhase,
  type StopCause,
  type TargetCounts,
  type TargetOutcome,
} from '../core/task-progress.ts';
import { TaskNotFoundError } from '../core/task-errors.ts';
import type { TargetRecord, TaskRecord, TaskRunState, TaskStore } from '../store/task-store.ts';
import { selectableApps } from './task-apps.ts';
import type { EndpointSet } from './task-endpoints.ts';
import { runTarget, type TargetContext } from './task-target.ts';
import { killPoint } from '../testing/test-hooks.ts';

/** What the worker needs. */
export interface WorkerDeps {
  tasks: TaskStore;
  endpoints: EndpointSet;
  /** Target events and live counts, one line each (stderr). */
  progress: (line: string) => void;
  /** Step-level lines of every target (verbose). */
  log: (line: string) => void;
  /** Aborted when the worker must stop (SIGTERM/SIGINT); a cancel request is read from the store. */
  signal: AbortSignal;
  /** The worker's log file, recorded with the task for `describe`. */
  logFile?: string;
  /** Milliseconds between two counts lines when nothing else happens. @default 10000 */
  heartbeatMs?: number;
}

/** How a run ended. */
export interface WorkerResult {
  task: TaskRecord;
  /** True when the worker was stopped: the task stays Started and a re-run continues it. */
  stopped: boolean;
}

/** Runs the task until it is Success or Error (or the worker is stopped). A finished task is returned as is. */
export async function runTask(deps: WorkerDeps, name: string): Promise<WorkerResult> {
  const task = deps.tasks.getTask(name);
  if (!task) throw new TaskNotFoundError(name);
  if (task.state.phase === 'Success' || task.state.phase === 'Error') return { task, stopped: false };
  deps.tasks.claimWorker(name, deps.logFile);
  try {
    return await work(deps, task);
  } finally {
    deps.tasks.releaseWorker(name);
  }
}

/** The worker's view of one run. */
interface Run {
  deps: WorkerDeps;
  task: TaskRecord;
  state: TaskRunState;
  targets: Map<string, TargetRecord>;
  abort: AbortController;
  cancelRequested: () => boolean;
}

async function work(deps: WorkerDeps, task: TaskRecord): Promise<WorkerResult> {
  const name = task.name;
  const run: Run = {
    deps,
    task,
    state: begin(deps, task),
    targets: new Map(ensureTargets(deps, task).map((t) => [t.target, t])),
    abort: new AbortController(),
    cancelRequested: () => deps.tasks.getTask(name)?.cancelRequestedAt !== undefined,
  };
  const stopOrCancel = (): void => {
    if (run.abort.signal.aborted) return;
    const cancel = run.cancelRequested();
    deps.progress(
      cancel
        ? 'cancel requested: rolling back what is in flight; no new targets start'
        : 'stopping: rolling back what is in flight; run the task again to continue',
    );
    run.abort.abort(
      new InterruptedError(
        'Interrupted',
        cancel ? 'the task was cancelled (molt task cancel)' : 'the task worker was stopped',
      ),
    );
  };
  deps.signal.addEventListener('abort', stopOrCancel, { once: true });
  const watch = setInterval(() => {
    if (run.cancelRequested()) stopOrCancel();
  }, 500);
  const heartbeat = setInterval(() => deps.progress(`… ${countsLine(counts(run))}`), deps.heartbeatMs ?? 10_000);
  try {
    if (deps.signal.aborted || run.cancelRequested()) stopOrCancel();
    const stop = await pool(run);
    return finish(run, stop);
  } finally {
    clearInterval(watch);
    clearInterval(heartbeat);
    deps.signal.removeEventListener('abort', stopOrCancel);
  }
}

/** Marks the task Started (a resumed run counts one more run). */
function begin(deps: WorkerDeps, task: TaskRecord): TaskRunState {
  const resumed = task.state.phase === 'Started';
  const state: TaskRunState = resumed
    ? { ...task.state, runs: task.state.runs + 1 }
    : { ...task.state, phase: 'Started', startTime: new Date().toISOString(), runs: 1 };
  killPoint('StartTask', 'before');
  deps.tasks.saveState(task.name, state);
  killPoint('StartTask', 'after');
  deps.progress(
    resumed
      ? `task/${task.name}: resuming (run ${state.runs}); a previous worker stopped before finishing`
      : `task/${task.name}: started`,
  );
  return state;
}

/** The journaled targets; selected and journaled first when there are none yet. */
function ensureTargets(deps: WorkerDeps, task: TaskRecord): TargetRecord[] {
  const existing = deps.tasks.listTargets(task.name);
  if (existing.length > 0) return existing;
  const spec = task.manifest.spec;
  const records: TargetRecord[] = [];
  for (const ep of deps.endpoints.endpoints) {
    for (const app of selectApps(spec.target, selectableApps(ep.store))) {
      const installed = ep.store.getApp(app)?.manifest?.spec.version;
      records.push({
        target: deps.endpoints.inventory ? `${ep.name}/${app}` : app,
        ord: records.length,
        endpoint: ep.name,
        app,
        phase: 'Pending',
        fromVersion: installed,
        toVersion: spec.toVersion,
        reason: '',
        message: '',
        attempts: 0,
      });
    }
  }
  killPoint('JournalTargets', 'before');
  deps.tasks.insertTargets(task.name, records);
  killPoint('JournalTargets', 'after');
  deps.progress(
    `task/${task.name}: ${records.length} target(s) on ${deps.endpoints.endpoints.map((e) => e.name).join(', ')}`,
  );
  return deps.tasks.listTargets(task.name);
}

/** Runs targets through the core scheduler `concurrency` at a time; returns why it stopped early. */
function pool(run: Run): Promise<StopCause> {
  const spec = run.task.manifest.spec;
  return schedule([...run.targets.values()], {
    concurrency: spec.options.concurrency,
    halted: () => false,
    stopping: () => run.abort.signal.aborted,
    failureRatioExceeded: () => failureRatioExceeded(counts(run), spec.options.maxFailureRatio),
    run: (next) => {
      run.targets.set(next.target, { ...next, phase: 'Running' });
      return runTarget(targetContext(run, next), next).then(
        (done) => settled(run, done),
        (e: unknown) =>
          settled(run, {
            ...next,
            phase: 'Incomplete',
            reason: 'Internal',
            message: String((e as Error)?.message ?? e),
          }),
      );
    },
  });
}

function targetContext(run: Run, t: TargetRecord): TargetContext {
  const spec = run.task.manifest.spec;
  return {
    task: run.task.name,
    spec,
    tasks: run.deps.tasks,
    endpoint: run.deps.endpoints.get(t.endpoint),
    signal: run.abort.signal,
    timeoutSeconds: durationSeconds(spec.options.timeout) ?? 600,
    log: run.deps.log,
    progress: run.deps.progress,
    onRetry: (r: TargetRecord, o: TargetOutcome) => {
      run.state = { ...run.state, retries: run.state.retries + 1 };
      run.deps.tasks.saveState(run.task.name, run.state);
      run.deps.progress(
        `${r.target}: ${o.phase} (${o.reason}); trying again (attempt ${r.attempts + 1} of ${1 + spec.options.retries})`,
      );
    },
  };
}

function settled(run: Run, t: TargetRecord): void {
  if (t.phase === 'Incomplete' && t.reason === 'Internal') run.deps.tasks.saveTarget(run.task.name, t);
  run.targets.set(t.target, t);
  const c = counts(run);
  const versions = t.fromVersion && t.toVersion && t.phase !== 'Skipped' ? ` ${t.fromVersion} → ${t.toVersion}` : '';
  const took =
    t.startTime && t.completedTime
      ? ` in ${((Date.parse(t.completedTime) - Date.parse(t.startTime)) / 1000).toFixed(1)}s`
      : '';
  const message = t.message.split('\n')[0] ?? '';
  const detail = t.phase === 'Upgraded' ? '' : `: ${t.reason}${message ? ` — ${message}` : ''}`;
  run.deps.progress(
    `[${c.done + c.failed}/${c.total}] ${t.target} ${t.phase}${versions}${took}${detail} · ${countsLine(c)}`,
  );
}

/** Ends the run: a stopped worker leaves the task Started; otherwise the final phase is written. */
function finish(run: Run, stop: StopCause): WorkerResult {
  const { deps, task } = run;
  const cancelled = run.abort.signal.aborted && run.cancelRequested();
  const now = new Date().toISOString();
  for (const t of run.targets.values()) {
    let next: TargetRecord | undefined;
    if (
      run.abort.signal.aborted &&
      !cancelled &&
      (t.phase === 'RolledBack' || t.phase === 'Aborted') &&
      t.reason === 'Interrupted'
    ) {
      next = {
        ...t,
        phase: 'Pending',
        attempts: Math.max(0, t.attempts - 1),
        reason: '',
        message: `${t.phase} when the worker stopped; tried again on the next run`,
        completedTime: undefined,
      };
    } else if (cancelled && t.reason === 'Interrupted' && (t.phase === 'RolledBack' || t.phase === 'Aborted')) {
      next = { ...t, reason: 'Cancelled' };
    } else if (t.phase === 'Pending' && (cancelled || stop !== undefined)) {
      next = {
        ...t,
        phase: 'NotStarted',
        reason: cancelled ? 'Cancelled' : (stop ?? ''),
        message: 'not touched: the task stopped before reaching it',
        completedTime: now,
      };
    }
    if (next) {
      deps.tasks.saveTarget(task.name, next);
      run.targets.set(t.target, next);
    }
  }
  if (run.abort.signal.aborted && !cancelled) {
    deps.progress(
      `task/${task.name}: stopped; ${countsLine(counts(run))}; \`molt task run ${task.name}\` continues it`,
    );
    return { task: deps.tasks.getTask(task.name) ?? task, stopped: true };
  }
  const final = finalPhase(counts(run), task.manifest.spec.options.maxFailureRatio, cancelled ? 'Cancelled' : stop);
  run.state = { ...run.state, phase: final.phase, completedTime: now, reason: final.reason, message: final.message };
  killPoint('FinishTask', 'before');
  deps.tasks.saveState(task.name, run.state);
  killPoint('FinishTask', 'after');
  deps.progress(`task/${task.name}: ${final.phase} (${final.reason}): ${final.message}`);
  return { task: deps.tasks.getTask(task.name) ?? task, stopped: false };
}

function counts(run: Run): TargetCounts {
  return countTargets([...run.targets.values()].map((t) => t.phase));
}

/** `done 7, failed 0, running 4, pending 9` (+ not started when any). */
export function countsLine(c: TargetCounts): string {
  return `done ${c.done}, failed ${c.failed}, running ${c.running}, pending ${c.pending}${c.notStarted ? `, not started ${c.notStarted}` : ''}`;
}
