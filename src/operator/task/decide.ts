/**
 * What the operator does for an UpgradeTask, decided from what it sees (pure): the task's
 * phase and its Job. The worker in the Job does the upgrading and writes the task's status;
 * the operator only makes sure exactly one Job runs while the task is unfinished, marks the
 * task Error when the Job fails for good (the worker can no longer say why), and removes the
 * Job — and with it its pods — once the task has finished, after success and after failure.
 */
import type { FailureCode } from '../../core/policy/index.ts';

/** The task as the operator sees it. */
export interface TaskView {
  phase: 'Pending' | 'Started' | 'Success' | 'Error' | undefined;
  deleting: boolean;
  /** status.job: the Job the operator recorded. */
  job: string | undefined;
}

/** The task's Job as the operator sees it. */
export interface JobView {
  name: string;
  deleting: boolean;
  /** The Job's Failed condition (backoffLimit or activeDeadlineSeconds reached). */
  failed?: { reason: string; message: string };
  /** The Job's Complete condition: the worker exited 0. */
  complete: boolean;
}

/** One thing to do. */
export type TaskStep =
  | { kind: 'CreateJob' }
  | { kind: 'MarkFailed'; reason: FailureCode; message: string }
  | { kind: 'DeleteJob'; outcome: 'Success' | 'Error' }
  | { kind: 'Wait'; why: string }
  | { kind: 'Nothing' };

/** Decides the next step for a task and its Job (undefined: none exists). */
export function decideTask(task: TaskView, job: JobView | undefined): TaskStep {
  if (task.deleting) return { kind: 'Nothing' }; // the Job is owned by the task: garbage collection removes it
  const finished = task.phase === 'Success' || task.phase === 'Error';
  if (finished)
    return job && !job.deleting
      ? { kind: 'DeleteJob', outcome: task.phase === 'Success' ? 'Success' : 'Error' }
      : { kind: 'Nothing' };
  if (!job) return { kind: 'CreateJob' };
  if (job.deleting) return { kind: 'Wait', why: `Job ${job.name} is being deleted` };
  if (job.failed) {
    return {
      kind: 'MarkFailed',
      reason: 'JobFailed',
      message: `the worker Job ${job.name} failed (${job.failed.reason}: ${job.failed.message}) before the task finished; targets it left Running may still be upgrading — see each App's status`,
    };
  }
  if (job.complete) {
    return {
      kind: 'MarkFailed',
      reason: 'WorkerExitedEarly',
      message: `the worker Job ${job.name} completed but the task is still ${task.phase ?? 'Pending'}`,
    };
  }
  return { kind: 'Wait', why: `Job ${job.name} is running the task` };
}

/** The view of a Job object's conditions. */
export function jobView(job: {
  metadata: { name?: string; deletionTimestamp?: string };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}): JobView {
  const conds = job.status?.conditions ?? [];
  const failed = conds.find((c) => c.type === 'Failed' && c.status === 'True');
  const complete = conds.some((c) => c.type === 'Complete' && c.status === 'True');
  return {
    name: job.metadata.name ?? '',
    deleting: job.metadata.deletionTimestamp !== undefined,
    complete,
    ...(failed ? { failed: { reason: failed.reason ?? 'Failed', message: failed.message ?? 'the Job failed' } } : {}),
  };
}
