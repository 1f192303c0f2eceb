/**
 * The Kubernetes driver: a thin client over the API server (client-node for configuration
 * and exec websockets, plain JSON requests otherwise), typed resource verbs, watches, exec
 * with stdin, and Events. Side effects only — the operator (src/operator) decides.
 */
export { KubeClient } from './client.ts';
export type { KubeClientOptions, KubeRequest, Query } from './client.ts';
export { ResourceApi, RESOURCES, apiVersionOf, pathOf } from './resources.ts';
export type { DeleteOptions, ResourceType } from './resources.ts';
export { watchOnce } from './watch.ts';
export type { WatchEvent, WatchOptions } from './watch.ts';
export { execInPod } from './exec.ts';
export type { PodExecOptions, PodExecResult } from './exec.ts';
export { EventRecorder } from './events.ts';
export type { EventSpec } from './events.ts';
export { KubeApiError, KubeConfigError, KubeExecError, KubeUnavailableError, isStatus } from './errors.ts';
export type * from './types.ts';
