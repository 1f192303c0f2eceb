/**
 * Writing Events (events.k8s.io/v1) about an object: what `kubectl describe` and
 * `kubectl get events` show. An Event that cannot be written is logged by the caller, never
 * fatal: events are for people, the status is the record.
 */
import type { ResourceApi } from './resources.ts';
import { RESOURCES } from './resources.ts';
import type { KubeObject } from './types.ts';

/** One event to record. */
export interface EventSpec {
  /** The object the event is about (needs apiVersion, kind, name, namespace, uid). */
  regarding: KubeObject;
  type: 'Normal' | 'Warning';
  /** CamelCase, e.g. UpgradeStarted, RolledBack. */
  reason: string;
  /** What molt did or tried, CamelCase, e.g. RunPreUpgrade. */
  action: string;
  /** The human message (at most 1 kB is kept). */
  note: string;
}

/** Records events as one controller instance. */
export class EventRecorder {
  private readonly api: ResourceApi;
  private readonly controller: string;
  private readonly instance: string;

  constructor(api: ResourceApi, controller: string, instance: string) {
    this.api = api;
    this.controller = controller;
    this.instance = instance;
  }

  /** Creates the Event; resolves even when the API refuses it (the error is returned). */
  async record(e: EventSpec): Promise<Error | undefined> {
    const m = e.regarding.metadata;
    const namespace = m.namespace ?? 'default';
    const now = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    try {
      await this.api.create(RESOURCES.events, namespace, {
        metadata: {
          name: `${m.name ?? 'molt'}.${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`,
          namespace,
        },
        eventTime: now,
        reportingController: this.controller,
        reportingInstance: this.instance.slice(0, 128),
        action: e.action,
        reason: e.reason,
        note: e.note.slice(0, 1024),
        type: e.type,
        regarding: {
          apiVersion: e.regarding.apiVersion,
          kind: e.regarding.kind,
          name: m.name,
          namespace,
          uid: m.uid,
          resourceVersion: m.resourceVersion,
        },
      } as KubeObject);
      return undefined;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }
}
