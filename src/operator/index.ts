/**
 * The molt operator for Kubernetes: App reconciliation on StatefulSets (install, upgrade with
 * the seeds' scripts on pods, automatic rollback), with the controller machinery it needs
 * (informers, a per-key work queue with backoff, Lease leader election, health and metrics)
 * and the CRDs generated from molt's schemas.
 */
export { runOperator, logLine } from './manager.ts';
export type { OperatorOptions } from './manager.ts';
export { reconcileApp } from './app/reconciler.ts';
export { renderCrds, KINDS, GROUP, VERSION } from './crd/crds.ts';
