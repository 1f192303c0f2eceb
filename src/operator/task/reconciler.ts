/**
 * One reconcile of an UpgradeTask: observe (the task, its Job) → decide (decide.ts) → act.
 * Acts: create the worker's ServiceAccount and RoleBinding when missing, then the Job (molt's
 * own image running `molt --in-cluster task run NAME`); mark the task Error when its Job
 * failed for good; delete the Job (Background propagation: its pods go too) once the task has
 * finished. Every act records an Event on the task. Level-based and idempotent: creating what
 * exists (AlreadyExists) and deleting what is gone are no-ops.
 */
import type { Reason } from '../../core/policy/index.ts';
import { hostname } from 'node:os';
import { selectApps, type SelectableApp, type UpgradeTaskSpec } from '../../core/task.ts';
import { upgradeTaskDocument } from '../../core/task-schema.ts';
import {
  isStatus,
  RESOURCES,
  type EventRecorder,
  type KubeObject,
  type ResourceApi,
  type ResourceType,
} from '../../engines/kubernetes/index.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { decideTask, jobView, type TaskStep } from './decide.ts';
import { jobFor, jobName, workerRoleBinding, workerServiceAccount, WORKER_ACCOUNT } from './template.ts';
import type { TaskObject } from './worker.ts';

const SERVICE_ACCOUNTS: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'serviceaccounts',
  kind: 'ServiceAccount',
  namespaced: true,
};
const ROLE_BINDINGS: ResourceType = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  plural: 'rolebindings',
  kind: 'RoleBinding',
  namespaced: true,
};

/** What the task reconciler needs. */
export interface TaskReconcilerDeps {
  api: ResourceApi;
  events: EventRecorder;
  log: (fields: Record<string, unknown>) => void;
  /** molt's image for the worker Job (the operator's own). */
  workerImage: () => Promise<string>;
}

type JobObject = KubeObject & {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
};

/** Reconciles the UpgradeTask `namespace/name`. */
export async function reconcileTask(
  deps: TaskReconcilerDeps,
  key: string,
  signal: AbortSignal,
): Promise<ReconcileResult> {
  const [namespace = '', name = ''] = key.split('/');
  const found = await deps.api.get<TaskObject>(RESOURCES.upgradeTasks, namespace, name, signal);
  if (!found) return {};
  const task: TaskObject = { ...found, apiVersion: 'molt.dev/v1alpha1', kind: 'UpgradeTask' };
  const job = await deps.api.get<JobObject>(RESOURCES.jobs, namespace, jobName(name), signal);
  const step = decideTask(
    { phase: task.status?.phase, deleting: task.metadata.deletionTimestamp !== undefined, job: task.status?.job },
    job && jobView(job),
  );
  if (step.kind !== 'Nothing' && step.kind !== 'Wait')
    deps.log({ level: 'info', task: key, step: step.kind, msg: 'step' });
  await act(deps, task, step);
  return step.kind === 'Wait' ? { requeueAfterMs: 15_000 } : {};
}

async function act(deps: TaskReconcilerDeps, task: TaskObject, step: TaskStep): Promise<void> {
  const namespace = task.metadata.namespace ?? 'default';
  const name = task.metadata.name ?? '';
  switch (step.kind) {
    case 'CreateJob':
      return createJob(deps, task);
    case 'MarkFailed': {
      await deps.api.mergePatch(
        RESOURCES.upgradeTasks,
        namespace,
        name,
        {
          status: {
            phase: 'Error',
            reason: step.reason,
            message: step.message,
            completedTime: new Date().toISOString(),
          },
        },
        'status',
      );
      return event(deps, task, 'Warning', 'JobFailed', 'RunTask', step.message);
    }
    case 'DeleteJob': {
      await deps.api.delete(RESOURCES.jobs, namespace, jobName(name), { propagationPolicy: 'Background' });
      const s = task.status ?? {};
      const note = `task ${s.phase}${s.reason ? ` (${s.reason})` : ''}${s.message ? `: ${s.message}` : ''}; Job ${jobName(name)} and its pods removed`;
      return event(
        deps,
        task,
        step.outcome === 'Success' ? 'Normal' : 'Warning',
        step.outcome === 'Success' ? 'JobSucceeded' : 'TaskFailed',
        'RemoveJob',
        note,
      );
    }
    default:
      return undefined;
  }
}

/** Creates the worker's access (when missing) and the Job; records the Job in the status. */
async function createJob(deps: TaskReconcilerDeps, task: TaskObject): Promise<void> {
  const namespace = task.metadata.namespace ?? 'default';
  const name = task.metadata.name ?? '';
  const parsed = upgradeTaskDocument().safeParse({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'UpgradeTask',
    metadata: { name, labels: task.metadata.labels ?? {} },
    spec: task.spec,
  });
  if (!parsed.success) {
    const message = `invalid spec: ${parsed.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ')}`;
    await deps.api.mergePatch(
      RESOURCES.upgradeTasks,
      namespace,
      name,
      { status: { phase: 'Error', reason: 'InvalidSpec', message, completedTime: new Date().toISOString() } },
      'status',
    );
    return event(deps, task, 'Warning', 'InvalidSpec', 'Validate', message);
  }
  const spec = parsed.data.spec as UpgradeTaskSpec;
  await createIfMissing(deps.api, SERVICE_ACCOUNTS, namespace, workerServiceAccount(namespace));
  await createIfMissing(deps.api, ROLE_BINDINGS, namespace, workerRoleBinding(namespace));
  const apps = await deps.api.list<KubeObject & { spec?: Record<string, unknown> }>(RESOURCES.apps, namespace);
  const selectable: SelectableApp[] = apps.items.map((a) => ({
    name: a.metadata.name ?? '',
    labels: a.metadata.labels ?? {},
    kind: a.spec && 'release' in a.spec ? 'release' : 'app',
  }));
  const targets = selectApps(spec.target, selectable).length;
  const job = jobFor({
    task: { name, namespace, uid: task.metadata.uid ?? '' },
    spec,
    targets,
    image: await deps.workerImage(),
  });
  const created = await createIfMissing(deps.api, RESOURCES.jobs, namespace, job);
  if (task.status?.job !== job.metadata.name)
    await deps.api.mergePatch(
      RESOURCES.upgradeTasks,
      namespace,
      name,
      { status: { job: job.metadata.name } },
      'status',
    );
  if (created) {
    await event(
      deps,
      task,
      'Normal',
      'JobCreated',
      'RunTask',
      `Job ${job.metadata.name} runs the task (${targets} target(s) now; service account ${WORKER_ACCOUNT}, deadline ${String(job.spec['activeDeadlineSeconds'])}s)`,
    );
  }
}

/** Creates the object; false when it already existed. */
async function createIfMissing(
  api: ResourceApi,
  type: ResourceType,
  namespace: string,
  obj: KubeObject,
): Promise<boolean> {
  try {
    await api.create(type, namespace, obj);
    return true;
  } catch (e) {
    if (isStatus(e, 409)) return false;
    throw e;
  }
}

async function event(
  deps: TaskReconcilerDeps,
  task: TaskObject,
  type: 'Normal' | 'Warning',
  reason: Reason,
  action: string,
  note: string,
): Promise<void> {
  const e = await deps.events.record({ regarding: task, type, reason, action, note });
  if (e)
    deps.log({
      level: 'warn',
      task: `${task.metadata.namespace}/${task.metadata.name}`,
      msg: `could not record event ${reason}: ${e.message}`,
    });
}

/**
 * molt's image for worker Jobs: MOLT_WORKER_IMAGE when set, else the image of the operator's
 * own pod (POD_NAMESPACE/POD_NAME from the downward API) — the same molt that reconciles,
 * whatever tag kustomize or Helm gave it. Read once.
 */
export function workerImageResolver(api: ResourceApi): () => Promise<string> {
  let cached: Promise<string> | undefined;
  const resolve = async (): Promise<string> => {
    const fromEnv = process.env['MOLT_WORKER_IMAGE'];
    if (fromEnv) return fromEnv;
    const ns = process.env['POD_NAMESPACE'];
    const pod = process.env['POD_NAME'] ?? hostname();
    const self = ns
      ? await api.get<KubeObject & { spec?: { containers?: { name: string; image: string }[] } }>(
          RESOURCES.pods,
          ns,
          pod,
        )
      : undefined;
    const image =
      self?.spec?.containers?.find((c) => c.name === 'manager')?.image ?? self?.spec?.containers?.[0]?.image;
    if (!image)
      throw new Error(
        "cannot tell molt's image for UpgradeTask Jobs: set MOLT_WORKER_IMAGE (the operator is not running in a pod with POD_NAMESPACE/POD_NAME)",
      );
    return image;
  };
  return () =>
    (cached ??= resolve().catch((e: unknown) => {
      cached = undefined;
      throw e;
    }));
}
