/**
 * A controller: workers take keys from a WorkQueue and call a level-based Reconciler for each.
 * The contract (as controller-runtime's): reconcile(key) looks at the world as it is now and
 * moves it one or more steps toward the desired state; it is idempotent and may be called any
 * number of times. It returns when to look again (`requeueAfterMs`), or throws: the key then
 * comes back after its exponential backoff (unless the error is terminal, i.e. a MoltError
 * that is not retryable — then only a change to the object brings it back).
 */
import { MoltError } from '../../core/errors.ts';
import type { OperatorMetrics } from './metrics.ts';
import { WorkQueue, type BackoffOptions } from './queue.ts';

/** What one reconcile asks for. */
export interface ReconcileResult {
  /** Look again after this many ms even if nothing changes (e.g. waiting for a pod). */
  requeueAfterMs?: number;
}

/** Reconciles one key ("namespace/name"). */
export type Reconciler = (key: string, signal: AbortSignal) => Promise<ReconcileResult>;

/** Options of a controller. */
export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  /** Keys reconciled at the same time (never the same key twice). @default 4 */
  workers?: number;
  backoff?: BackoffOptions;
  metrics: OperatorMetrics;
  log: (fields: Record<string, unknown>) => void;
}

/** Runs workers over a queue until stopped. */
export class Controller {
  readonly queue: WorkQueue;
  private readonly opts: ControllerOptions;
  private readonly abort = new AbortController();
  private active = 0;
  private running: Promise<void>[] = [];

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.queue = new WorkQueue(opts.backoff ?? {}, opts.metrics.queue(opts.name));
  }

  /** Starts the workers. */
  start(): void {
    const n = this.opts.workers ?? 4;
    this.opts.metrics.workers(this.opts.name, 0, n);
    this.running = Array.from({ length: n }, () => this.work());
  }

  /** Stops taking keys, aborts running reconciles and waits for the workers. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('the operator is shutting down'));
    this.queue.shutDown();
    await Promise.allSettled(this.running);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.active++;
      this.opts.metrics.workers(this.opts.name, this.active, this.opts.workers ?? 4);
      try {
        await this.reconcileOne(key);
      } finally {
        this.active--;
        this.opts.metrics.workers(this.opts.name, this.active, this.opts.workers ?? 4);
        this.queue.done(key);
      }
    }
  }

  private async reconcileOne(key: string): Promise<void> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const result = await this.opts.reconcile(key, this.abort.signal);
      this.queue.forget(key);
      if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
      this.opts.metrics.reconciled(
        this.opts.name,
        result.requeueAfterMs !== undefined ? 'requeue_after' : 'success',
        seconds(),
      );
    } catch (e) {
      this.opts.metrics.reconciled(this.opts.name, 'error', seconds());
      if (this.abort.signal.aborted) return;
      const terminal = e instanceof MoltError && !e.retryable;
      const delay = terminal ? undefined : this.queue.addRateLimited(key);
      this.opts.log({
        level: 'error',
        controller: this.opts.name,
        key,
        msg: 'reconcile failed',
        error:
          e instanceof MoltError ? `${e.code}: ${e.message}` : e instanceof Error ? (e.stack ?? e.message) : String(e),
        retryInMs: delay,
        terminal,
      });
    }
  }
}
