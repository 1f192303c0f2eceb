/**
 * Resource paths and typed verbs over the Kubernetes REST API: get (404 → undefined), list,
 * create, server-side apply, merge/JSON patch (also of the status subresource), replace,
 * delete with preconditions. Side effects only: callers decide.
 */
import type { KubeClient, Query } from './client.ts';
import { isStatus } from './errors.ts';
import type { KubeList, KubeObject } from './types.ts';

/** One resource type: where its objects live in the API. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

/** The resource types molt uses. */
export const RESOURCES = {
  pods: { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  services: { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  pvcs: { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
  secrets: { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  events: { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  statefulsets: { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true },
  jobs: { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
  apps: { group: 'molt.dev', version: 'v1alpha1', plural: 'apps', kind: 'App', namespaced: true },
  releases: { group: 'molt.dev', version: 'v1alpha1', plural: 'releases', kind: 'Release', namespaced: false },
  upgradeTasks: {
    group: 'molt.dev',
    version: 'v1alpha1',
    plural: 'upgradetasks',
    kind: 'UpgradeTask',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

/** `apiVersion` of a resource type, e.g. "apps/v1" or "v1". */
export function apiVersionOf(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

/** The REST path of a collection (namespace undefined: all namespaces) or of one object. */
export function pathOf(t: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const base = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
  const ns = t.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const obj = name ? `/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}` : '';
  return `${base}${ns}/${t.plural}${obj}`;
}

/** Options of a delete. */
export interface DeleteOptions {
  /** Only delete the object with this UID (a replaced object is never deleted by mistake). */
  uid?: string;
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
}

/** Typed verbs over one API server. */
export class ResourceApi {
  readonly client: KubeClient;
  /** The field manager of server-side apply and of every write. */
  readonly fieldManager: string;

  constructor(client: KubeClient, fieldManager = 'molt-operator') {
    this.client = client;
    this.fieldManager = fieldManager;
  }

  /** The object, or undefined when it does not exist. */
  async get<T extends KubeObject>(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    try {
      return await this.client.request<T>({
        method: 'GET',
        path: pathOf(t, namespace, name),
        signal,
        operation: `get ${t.kind} ${name}`,
      });
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw e;
    }
  }

  /** Lists objects (namespace undefined: all namespaces), optionally by label selector. */
  list<T extends KubeObject>(
    t: ResourceType,
    namespace: string | undefined,
    query: Query = {},
    signal?: AbortSignal,
  ): Promise<KubeList<T>> {
    return this.client.request<KubeList<T>>({
      method: 'GET',
      path: pathOf(t, namespace),
      query,
      signal,
      operation: `list ${t.plural}`,
    });
  }

  /** Creates an object. */
  create<T extends KubeObject>(t: ResourceType, namespace: string | undefined, body: T): Promise<T> {
    const obj = { apiVersion: apiVersionOf(t), kind: t.kind, ...body };
    return this.client.request<T>({
      method: 'POST',
      path: pathOf(t, namespace),
      body: obj,
      query: { fieldManager: this.fieldManager },
      operation: `create ${t.kind} ${body.metadata.name ?? body.metadata.generateName ?? ''}`,
    });
  }

  /** Server-side apply: the fields in `body` become molt's (force: take them over from others; dryRun: validated and answered, not stored). */
  apply<T extends KubeObject>(
    t: ResourceType,
    namespace: string | undefined,
    body: T,
    force = true,
    dryRun = false,
  ): Promise<T> {
    const name = body.metadata.name ?? '';
    const obj = { apiVersion: apiVersionOf(t), kind: t.kind, ...body };
    return this.client.request<T>({
      method: 'PATCH',
      path: pathOf(t, namespace, name),
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: this.fieldManager, force, ...(dryRun ? { dryRun: 'All' } : {}) },
      operation: `${dryRun ? 'dry-run ' : ''}apply ${t.kind} ${name}`,
    });
  }

  /** A JSON merge patch of the object or of its subresource (e.g. "status"). */
  mergePatch<T extends KubeObject>(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    subresource?: string,
  ): Promise<T> {
    return this.client.request<T>({
      method: 'PATCH',
      path: pathOf(t, namespace, name, subresource),
      body: patch,
      contentType: 'application/merge-patch+json',
      query: { fieldManager: this.fieldManager },
      operation: `patch ${t.kind} ${name}${subresource ? `/${subresource}` : ''}`,
    });
  }

  /** A JSON patch (RFC 6902), e.g. with a `test` operation as a precondition. */
  jsonPatch<T extends KubeObject>(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    ops: unknown[],
    subresource?: string,
  ): Promise<T> {
    return this.client.request<T>({
      method: 'PATCH',
      path: pathOf(t, namespace, name, subresource),
      body: ops,
      contentType: 'application/json-patch+json',
      query: { fieldManager: this.fieldManager },
      operation: `patch ${t.kind} ${name}${subresource ? `/${subresource}` : ''}`,
    });
  }

  /** Replaces an object; its metadata.resourceVersion makes it conditional (409 when stale). */
  replace<T extends KubeObject>(t: ResourceType, namespace: string | undefined, body: T): Promise<T> {
    const name = body.metadata.name ?? '';
    const obj = { apiVersion: apiVersionOf(t), kind: t.kind, ...body };
    return this.client.request<T>({
      method: 'PUT',
      path: pathOf(t, namespace, name),
      body: obj,
      query: { fieldManager: this.fieldManager },
      operation: `update ${t.kind} ${name}`,
    });
  }

  /** Deletes an object; true when it was deleted now, false when it was already gone (or replaced, with `uid`). */
  async delete(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): Promise<boolean> {
    const body = {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      ...(opts.uid ? { preconditions: { uid: opts.uid } } : {}),
      ...(opts.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}),
      ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}),
    };
    try {
      await this.client.request({
        method: 'DELETE',
        path: pathOf(t, namespace, name),
        body,
        operation: `delete ${t.kind} ${name}`,
      });
      return true;
    } catch (e) {
      if (isStatus(e, 404) || (opts.uid && isStatus(e, 409))) return false;
      throw e;
    }
  }
}
