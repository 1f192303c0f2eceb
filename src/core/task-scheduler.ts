/**
 * The UpgradeTask scheduler, engine-neutral: which target starts next, how many run at once,
 * when no new target starts (a stop, a cancel, the failure ratio), and the attempts of one
 * target (resume what a stopped worker left Running, then attempt and retry). Each engine's
 * worker is an adapter: it says how a target runs and is recorded (runner/task-worker.ts +
 * task-target.ts on Podman/Docker, operator/task/worker.ts + worker-target.ts on Kubernetes).
 * No I/O here: the adapter's callbacks do it.
 */
import type { StopCause, TargetPhase } from './task-progress.ts';

/** What the pool needs of a worker. */
export interface TaskPool<T extends { phase: TargetPhase }> {
  /** Targets run at the same time (spec.options.concurrency). */
  concurrency: number;
  /** Start nothing at all, not even a resume (the worker itself stops; the next run continues). */
  halted(): boolean;
  /** Start no new target; resumes still run (cancelled, or stopping while rolling back what is in flight). */
  stopping(): boolean;
  /** True once the failed share is over maxFailureRatio (core/task-progress.ts failureRatioExceeded). */
  failureRatioExceeded(): boolean;
  /** Runs one target to its end and records it; never rejects (the adapter records its errors). */
  run(target: T): Promise<void>;
}

/**
 * Runs the targets a stopped worker left Running first (they are resumed whatever else
 * holds), then the Pending ones, `concurrency` at a time; returns why it stopped starting
 * new ones early, if it did (a cancel or stop is the caller's to name).
 */
export async function schedule<T extends { phase: TargetPhase }>(
  targets: readonly T[],
  pool: TaskPool<T>,
): Promise<StopCause> {
  const queue = [...targets.filter((t) => t.phase === 'Running'), ...targets.filter((t) => t.phase === 'Pending')];
  const inflight = new Set<Promise<void>>();
  let stop: StopCause;
  const startNext = (): boolean => {
    const next = queue[0];
    if (!next || pool.halted()) return false;
    if (next.phase !== 'Running') {
      if (pool.stopping()) return false;
      if (pool.failureRatioExceeded()) {
        stop = 'MaxFailureRatioExceeded';
        return false;
      }
    }
    queue.shift();
    const p = pool.run(next).finally(() => inflight.delete(p));
    inflight.add(p);
    return true;
  };
  for (;;) {
    while (inflight.size < pool.concurrency && startNext());
    if (inflight.size === 0) return stop;
    await Promise.race(inflight);
  }
}

/** What the attempts of one target need of a worker. */
export interface TargetAttempts<T extends { phase: TargetPhase }> {
  /**
   * A target a stopped worker left Running: its outcome read back (`settled`), or the
   * record to attempt again (`again`, its interrupted attempt not counted).
   */
  resume(t: T): Promise<{ settled: T } | { again: T }>;
  /** One attempt, recorded; resolves with the settled record. */
  attempt(t: T): Promise<T>;
  /** True when a settled failure gets another attempt (core/task-progress.ts shouldRetry, and not stopping). */
  again(t: T): boolean;
  /** Called before each new attempt of a failed target. */
  onRetry(t: T): void;
  /** Start no further attempt (the worker stops). */
  halted(): boolean;
}

/** Resumes the target when it was Running, then attempts it until it settles for good. */
export async function runAttempts<T extends { phase: TargetPhase }>(start: T, a: TargetAttempts<T>): Promise<T> {
  let t = start;
  if (t.phase === 'Running') {
    const r = await a.resume(t);
    if ('again' in r) t = r.again;
    else {
      if (!a.again(r.settled)) return r.settled;
      a.onRetry(r.settled);
      t = r.settled;
    }
  }
  for (;;) {
    if (a.halted()) return t;
    t = await a.attempt(t);
    if (!a.again(t)) return t;
    a.onRetry(t);
  }
}
