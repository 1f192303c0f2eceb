/**
 * The objects the operator makes to run an UpgradeTask (seed 004: "the upgrade runs as a
 * Kubernetes Job"): the Job — molt's own image running `molt --in-cluster task run NAME` —
 * and, per namespace, the worker's ServiceAccount and the RoleBinding to the ClusterRole
 * `molt-task-worker` (deploy/rbac). Pure: names and object shapes only.
 */
import { createHash } from 'node:crypto';
import { durationSeconds, type UpgradeTaskSpec } from '../../core/task.ts';
import type { KubeObject } from '../../engines/kubernetes/index.ts';

/** Labels on the Job and its pods. */
export const TASK_LABELS = {
  task: 'molt.dev/upgrade-task',
  component: 'molt.dev/component',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

/** The annotation `molt task cancel` sets on an UpgradeTask (an RFC 3339 time). */
export const CANCEL_ANNOTATION = 'molt.dev/cancel-requested';

/** The ServiceAccount (per namespace) and ClusterRole of task workers. */
export const WORKER_ACCOUNT = 'molt-task-worker';

/** Attempts of the worker pod before the Job fails (a replaced pod continues the task). @default 3 */
export const JOB_BACKOFF_LIMIT = 3;

/** The Job of a task: `molt-task-<name>`, shortened with a hash when the name is long. */
export function jobName(task: string): string {
  const name = `molt-task-${task}`;
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(task).digest('hex').slice(0, 8);
  return `${name.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

/**
 * How long the Job may run: every target's timeout, once per attempt, `concurrency` at a time,
 * plus 5 minutes for selection and status writes. A passed deadline fails the Job, and the
 * operator then marks the task Error.
 */
export function jobDeadlineSeconds(spec: UpgradeTaskSpec, targets: number): number {
  const timeout = durationSeconds(spec.options.timeout) ?? 600;
  const waves = Math.ceil(Math.max(1, targets) / spec.options.concurrency);
  return Math.ceil(timeout * waves * (1 + spec.options.retries)) + 300;
}

/** What the Job is made from. */
export interface JobInput {
  task: { name: string; namespace: string; uid: string };
  spec: UpgradeTaskSpec;
  /** The apps the task selects now (for the deadline; the worker selects for itself). */
  targets: number;
  /** molt's image: the operator's own. */
  image: string;
}

/** The worker's command: molt's CLI in the image, against the pod's own cluster. */
export function workerCommand(namespace: string, task: string): string[] {
  return [
    '/usr/local/bin/node',
    '--disable-warning=ExperimentalWarning',
    '/app/src/cli/main.ts',
    '--in-cluster',
    '-n',
    namespace,
    'task',
    'run',
    task,
    '--in-job',
  ];
}

/** The Job that runs the task, owned by the UpgradeTask (it goes when the task goes). */
export function jobFor(input: JobInput): KubeObject & { spec: Record<string, unknown> } {
  const { task } = input;
  const labels = {
    [TASK_LABELS.task]: task.name,
    [TASK_LABELS.component]: 'task-worker',
    [TASK_LABELS.managedBy]: 'molt-operator',
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(task.name),
      namespace: task.namespace,
      labels,
      ownerReferences: [
        {
          apiVersion: 'molt.dev/v1alpha1',
          kind: 'UpgradeTask',
          name: task.name,
          uid: task.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      backoffLimit: JOB_BACKOFF_LIMIT,
      activeDeadlineSeconds: jobDeadlineSeconds(input.spec, input.targets),
      // A safety net only: the operator deletes the Job as soon as the task has finished.
      ttlSecondsAfterFinished: 600,
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: WORKER_ACCOUNT,
          automountServiceAccountToken: true,
          restartPolicy: 'Never',
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 10,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'worker',
              image: input.image,
              imagePullPolicy: 'IfNotPresent',
              command: workerCommand(task.namespace, task.name),
              resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  };
}

/** The worker's ServiceAccount in the task's namespace. */
export function workerServiceAccount(namespace: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: WORKER_ACCOUNT, namespace, labels: { [TASK_LABELS.managedBy]: 'molt-operator' } },
  };
}

/** Binds the ClusterRole `molt-task-worker` to the worker's ServiceAccount in this namespace only. */
export function workerRoleBinding(namespace: string): KubeObject & Record<string, unknown> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: WORKER_ACCOUNT, namespace, labels: { [TASK_LABELS.managedBy]: 'molt-operator' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: WORKER_ACCOUNT },
    subjects: [{ kind: 'ServiceAccount', name: WORKER_ACCOUNT, namespace }],
  };
}
