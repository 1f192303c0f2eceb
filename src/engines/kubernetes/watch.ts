/**
 * One watch request: streams `{type, object}` events, one JSON document per line, until the
 * server closes the stream (it does so after `timeoutSeconds`), the signal aborts, or an
 * ERROR event arrives (410 Gone: the resourceVersion is too old — the caller lists again).
 * Watches can also stop silently, so callers pair them with a periodic resync.
 */
import type { KubeClient, Query } from './client.ts';
import { KubeApiError } from './errors.ts';
import type { KubeObject } from './types.ts';

/** One event of a watch. */
export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  object: T;
}

/** Options of one watch request. */
export interface WatchOptions {
  resourceVersion?: string;
  labelSelector?: string;
  /** Seconds after which the server ends the watch. @default 240 */
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

/**
 * Watches `path` (a collection) and calls `onEvent` for each event. Resolves with the last
 * resourceVersion seen when the stream ends; rejects with KubeApiError (410 for Gone).
 */
export async function watchOnce<T extends KubeObject>(
  client: KubeClient,
  path: string,
  opts: WatchOptions,
  onEvent: (e: WatchEvent<T>) => void,
): Promise<string | undefined> {
  const query: Query = {
    watch: 1,
    allowWatchBookmarks: true,
    resourceVersion: opts.resourceVersion,
    labelSelector: opts.labelSelector,
    timeoutSeconds: opts.timeoutSeconds ?? 240,
  };
  const res = await client.stream({ method: 'GET', path, query, signal: opts.signal, operation: `watch ${path}` });
  let lastVersion = opts.resourceVersion;
  let buffer = '';
  return new Promise<string | undefined>((resolve, reject) => {
    const fail = (e: unknown) => {
      res.destroy();
      reject(e);
    };
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const event = JSON.parse(line) as {
          type: string;
          object: T & { code?: number; reason?: string; message?: string };
        };
        if (event.type === 'ERROR') {
          const s = event.object;
          fail(new KubeApiError(`watch ${path}`, s.code ?? 500, s.reason ?? '', s.message ?? 'watch error'));
          return;
        }
        lastVersion = event.object.metadata?.resourceVersion ?? lastVersion;
        try {
          onEvent(event as WatchEvent<T>);
        } catch (e) {
          fail(e);
          return;
        }
      }
    });
    res.on('end', () => resolve(lastVersion));
    res.on('error', (e) => (opts.signal?.aborted ? resolve(lastVersion) : reject(e)));
    res.on('close', () => resolve(lastVersion));
  });
}
