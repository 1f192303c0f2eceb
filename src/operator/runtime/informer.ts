/**
 * An informer: lists a resource once, then watches it from that resourceVersion, keeping a
 * cache of the objects and telling a handler about each change. Watches end (server timeout)
 * or break (network, 410 Gone): it re-watches, or re-lists when the version is gone, with a
 * short backoff. Watches can also stop delivering silently, so every `resyncMs` it re-lists
 * and reports every object again (level-based consumers need no more than that).
 */
import type { KubeObject, ResourceApi, ResourceType } from '../../engines/kubernetes/index.ts';
import { isStatus, pathOf, watchOnce } from '../../engines/kubernetes/index.ts';

/** What an informer reports: an object was added/changed, or deleted (the last known state). */
export type InformerHandler<T extends KubeObject> = (type: 'upsert' | 'delete', obj: T) => void;

/** Options of an informer. */
export interface InformerOptions {
  /** Only objects with these labels (a selector string). */
  labelSelector?: string;
  /** Milliseconds between full re-lists. @default 30000 */
  resyncMs?: number;
  /** Called when a list or watch fails (the informer keeps trying). */
  onError?: (e: unknown) => void;
}

/** The cache key of an object: namespace/name, or name for cluster-scoped ones. */
export function keyOf(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : (obj.metadata.name ?? '');
}

/** A list+watch cache of one resource type in all namespaces. */
export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly api: ResourceApi;
  private readonly type: ResourceType;
  private readonly handler: InformerHandler<T>;
  private readonly opts: InformerOptions;
  private readonly abort = new AbortController();
  private synced = false;
  private resourceVersion: string | undefined;
  private lastList = 0;

  constructor(api: ResourceApi, type: ResourceType, handler: InformerHandler<T>, opts: InformerOptions = {}) {
    this.api = api;
    this.type = type;
    this.handler = handler;
    this.opts = opts;
  }

  /** True once the first list has filled the cache. */
  get hasSynced(): boolean {
    return this.synced;
  }

  /** The cached object, if any. */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.cache.values()];
  }

  /** Starts listing and watching in the background; resolves after the first list. */
  async start(): Promise<void> {
    await this.relistWithRetry();
    void this.run();
  }

  /** Stops watching. */
  stop(): void {
    this.abort.abort();
  }

  private async run(): Promise<void> {
    const resync = this.opts.resyncMs ?? 30_000;
    let failures = 0;
    while (!this.abort.signal.aborted) {
      try {
        if (Date.now() - this.lastList >= resync) await this.relist();
        const watchFor = Math.max(1, Math.ceil((resync - (Date.now() - this.lastList)) / 1000));
        this.resourceVersion = await watchOnce<T>(
          this.api.client,
          pathOf(this.type),
          {
            resourceVersion: this.resourceVersion,
            labelSelector: this.opts.labelSelector,
            timeoutSeconds: watchFor,
            signal: this.abort.signal,
          },
          (e) => {
            if (e.type === 'BOOKMARK') return;
            if (e.type === 'DELETED') this.remove(e.object);
            else this.put(e.object);
          },
        );
        failures = 0;
      } catch (e) {
        if (this.abort.signal.aborted) return;
        if (isStatus(e, 410)) this.lastList = 0;
        else this.opts.onError?.(e);
        failures++;
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), this.abort.signal);
      }
    }
  }

  private async relistWithRetry(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.relist();
      } catch (e) {
        if (this.abort.signal.aborted) return;
        this.opts.onError?.(e);
        await sleep(Math.min(10_000, 500 * 2 ** attempt), this.abort.signal);
      }
    }
  }

  /** Lists everything, reports every object (resync) and deletions the watch missed. */
  private async relist(): Promise<void> {
    const list = await this.api.list<T>(
      this.type,
      undefined,
      { labelSelector: this.opts.labelSelector },
      this.abort.signal,
    );
    const seen = new Set<string>();
    for (const obj of list.items) {
      seen.add(keyOf(obj));
      this.put(obj);
    }
    for (const [key, obj] of this.cache) if (!seen.has(key)) this.remove(obj);
    this.resourceVersion = list.metadata.resourceVersion;
    this.lastList = Date.now();
    this.synced = true;
  }

  private put(obj: T): void {
    this.cache.set(keyOf(obj), obj);
    this.handler('upsert', obj);
  }

  private remove(obj: T): void {
    this.cache.delete(keyOf(obj));
    this.handler('delete', obj);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
