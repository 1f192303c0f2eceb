/**
 * A per-key work queue, as client-go's: a key waits at most once (adding it again while it
 * waits does nothing), a key being processed is never handed to a second worker (added again
 * meanwhile, it is queued once the first worker is done), failures come back after an
 * exponential backoff per key (`addRateLimited`), and `forget` resets that backoff.
 */

/** Counters the queue reports (as workqueue_* metrics). */
export interface QueueMetrics {
  adds(): void;
  retries(): void;
  depth(n: number): void;
  /** Seconds a key waited before a worker took it. */
  queued(seconds: number): void;
  /** Seconds a worker held a key. */
  worked(seconds: number): void;
}

/** Backoff of failing keys. */
export interface BackoffOptions {
  /** First retry delay in ms. @default 1000 */
  baseMs?: number;
  /** Longest delay in ms. @default 300000 (5 min) */
  maxMs?: number;
}

/** A deduplicating queue of keys with per-key exponential backoff. */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly waiting = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; due: number }>();
  private readonly addedAt = new Map<string, number>();
  private readonly takenAt = new Map<string, number>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly metrics: QueueMetrics | undefined;
  private closed = false;

  constructor(opts: BackoffOptions = {}, metrics?: QueueMetrics) {
    this.baseMs = opts.baseMs ?? 1000;
    this.maxMs = opts.maxMs ?? 300_000;
    this.metrics = metrics;
  }

  /** Queues the key now (no-op when it already waits; deferred while it is processed). */
  add(key: string): void {
    if (this.closed) return;
    this.metrics?.adds();
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.waiting.has(key)) return;
    this.waiting.add(key);
    this.addedAt.set(key, performance.now());
    const waiter = this.waiters.shift();
    if (waiter) this.hand(key, waiter);
    else {
      this.queue.push(key);
      this.metrics?.depth(this.queue.length);
    }
  }

  /** Queues the key after `ms` (an earlier pending timer for it wins). */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) return this.add(key);
    const due = performance.now() + ms;
    const pending = this.timers.get(key);
    if (pending) {
      if (pending.due <= due) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { timer, due });
  }

  /** Queues the key after its backoff (doubling with each failure); returns the delay. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.maxMs, this.baseMs * 2 ** n);
    this.metrics?.retries();
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the key's backoff (after a successful pass). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How many times the key failed in a row. */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Waits for the next key; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.metrics?.depth(this.queue.length);
      return Promise.resolve(this.take(key));
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks the key as processed; queues it again if it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    const started = this.takenAt.get(key);
    if (started !== undefined) this.metrics?.worked((performance.now() - started) / 1000);
    this.takenAt.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Number of keys waiting. */
  get length(): number {
    return this.queue.length;
  }

  /** Stops handing out keys; pending `get` calls resolve with undefined. */
  shutDown(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private hand(key: string, waiter: (key: string | undefined) => void): void {
    waiter(this.take(key));
  }

  private take(key: string): string {
    this.waiting.delete(key);
    this.processing.add(key);
    const added = this.addedAt.get(key);
    if (added !== undefined) this.metrics?.queued((performance.now() - added) / 1000);
    this.addedAt.delete(key);
    this.takenAt.set(key, performance.now());
    return key;
  }
}
