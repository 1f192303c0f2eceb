/**
 * The UpgradeTask controller: the operator runs each task as a Job of molt's own image
 * (reconciler.ts), watching UpgradeTasks and the Jobs it made (label `molt.dev/upgrade-task`).
 * The worker those Jobs run is worker.ts (`molt --in-cluster task run NAME`).
 */
import { EventRecorder, RESOURCES, type KubeObject, type ResourceApi } from '../../engines/kubernetes/index.ts';
import { Controller } from '../runtime/controller.ts';
import { Informer, keyOf } from '../runtime/informer.ts';
import type { OperatorMetrics } from '../runtime/metrics.ts';
import { reconcileTask, workerImageResolver } from './reconciler.ts';
import { TASK_LABELS } from './template.ts';

export { runKubeTask, type KubeWorkerDeps, type KubeWorkerResult, type TaskObject } from './worker.ts';
export { CANCEL_ANNOTATION, jobName } from './template.ts';

/** The controller name in Events and metrics. */
export const TASK_CONTROLLER = 'molt.dev/task-controller';

/** What the task controller is built from. */
export interface TaskControllerOptions {
  api: ResourceApi;
  metrics: OperatorMetrics;
  identity: string;
  log: (fields: Record<string, unknown>) => void;
  resyncMs: number;
  onError: (e: unknown) => void;
  /** Only UpgradeTasks with these labels (the operator instance's selector, runtime/instance.ts). */
  labelSelector?: string;
}

/** The task controller and its informers (nothing runs until started). */
export function taskController(opts: TaskControllerOptions): {
  controller: Controller;
  informers: Informer<KubeObject>[];
} {
  const events = new EventRecorder(opts.api, TASK_CONTROLLER, opts.identity);
  const workerImage = workerImageResolver(opts.api);
  const controller = new Controller({
    name: 'upgradetask',
    workers: 2,
    metrics: opts.metrics,
    log: opts.log,
    reconcile: (key, signal) => reconcileTask({ api: opts.api, events, log: opts.log, workerImage }, key, signal),
  });
  const enqueueTask = (_: string, job: KubeObject) => {
    const task = job.metadata.labels?.[TASK_LABELS.task];
    // Only tasks this instance watches (a Job of another instance's task is not ours).
    if (task && job.metadata.namespace && informers[0]?.get(`${job.metadata.namespace}/${task}`))
      controller.queue.add(`${job.metadata.namespace}/${task}`);
  };
  const informers = [
    new Informer<KubeObject>(opts.api, RESOURCES.upgradeTasks, (_, obj) => controller.queue.add(keyOf(obj)), {
      resyncMs: opts.resyncMs,
      onError: opts.onError,
      ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
    }),
    new Informer<KubeObject>(opts.api, RESOURCES.jobs, enqueueTask, {
      labelSelector: TASK_LABELS.task,
      resyncMs: opts.resyncMs,
      onError: opts.onError,
    }),
  ];
  return { controller, informers };
}
