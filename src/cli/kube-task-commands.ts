/**
 * `molt task …` against a cluster (`--kubeconfig`, `--context` or `--in-cluster`): the same
 * verbs as on the local engine, acting on UpgradeTask custom resources of the namespace.
 * `apply` validates the file with the same schema as locally (file:line errors, nothing
 * created) and writes with server-side apply; the operator then runs the task as a Job. `run`
 * is the worker itself (what that Job runs). `cancel` sets the cancel annotation the worker
 * reads. Exit codes as locally: 0 success, 1 error or the task ended in Error, 130 stopped.
 */
import { readFileSync } from 'node:fs';
import { InvalidInputError } from '../core/errors.ts';
import { parseManifests } from '../core/manifest.ts';
import { sameValue } from '../core/plan.ts';
import { TaskBusyError, TaskImmutableError, TaskNotFoundError } from '../core/task-errors.ts';
import { RESOURCES, type KubeObject } from '../engines/kubernetes/index.ts';
import { CANCEL_ANNOTATION, jobName, runKubeTask, type TaskObject } from '../operator/task/index.ts';
import { say, type GlobalOptions } from './context.ts';
import { renderKubeDescribe, renderKubeTargets, renderKubeTasks } from './kube-task-render.ts';
import { connect } from './kube-connect.ts';
import { requireSameNamespace } from './kube-target.ts';
import { outputFormat, UsageError } from './output.ts';

/** `molt task apply -f FILE` on a cluster: UpgradeTasks only (Inventories name engine hosts, not clusters). */
export async function kubeApplyTasks(opts: GlobalOptions, file: string): Promise<number> {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidInputError(
      [
        {
          file,
          message:
            (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot read: ${(e as Error).message}`,
        },
      ],
      'Pass the path of a task file with -f.',
    );
  }
  const docs = parseManifests(text, file, ['UpgradeTask', 'Inventory'], { namespaces: true });
  const inventory = docs.find((d) => d.kind === 'Inventory');
  if (inventory)
    throw new InvalidInputError(
      [
        {
          file,
          message: `kind Inventory (${inventory.manifest.metadata.name}) is for engine hosts; on a cluster a task upgrades the Apps of its namespace`,
        },
      ],
      'Leave Inventories out, or apply the file without --kubeconfig/--context.',
    );
  requireSameNamespace(docs, opts.namespace);
  const k = await connect(opts, ['upgradetasks']);
  // As with kubectl: the document's namespace, else -n, else the context's.
  const tasks = docs.flatMap((d) =>
    d.kind === 'UpgradeTask' ? [{ task: d.manifest, namespace: d.namespace?.name ?? k.namespace }] : [],
  );
  if (tasks.some(({ task }) => task.spec.inventory !== undefined))
    throw new InvalidInputError([
      { file, field: 'spec.inventory', message: 'not used on a cluster: a task upgrades the Apps of its namespace' },
    ]);
  // Check every task first: nothing is written when one of them cannot be.
  const before = new Map<string, TaskObject | undefined>();
  for (const { task, namespace } of tasks) {
    const existing = await k.api.get<TaskObject>(RESOURCES.upgradeTasks, namespace, task.metadata.name);
    const phase = existing?.status?.phase;
    if (existing && phase && phase !== 'Pending' && !sameValue(existing.spec, task.spec))
      throw new TaskImmutableError(task.metadata.name, phase);
    before.set(`${namespace}/${task.metadata.name}`, existing);
  }
  for (const { task, namespace } of tasks) {
    const existing = before.get(`${namespace}/${task.metadata.name}`);
    await k.api.apply(RESOURCES.upgradeTasks, namespace, {
      metadata: { name: task.metadata.name, namespace, labels: task.metadata.labels },
      spec: task.spec,
    } as TaskObject);
    process.stdout.write(
      `upgradetask/${task.metadata.name} ${!existing ? 'created' : sameValue(existing.spec, task.spec) ? 'unchanged' : 'configured'}\n`,
    );
  }
  return 0;
}

/** `molt task run NAME` on a cluster: the worker, in this process (SIGTERM/SIGINT stop it; the next run continues). */
export async function kubeRunTask(
  opts: GlobalOptions,
  name: string,
  o: { output: string; inJob?: boolean },
): Promise<number> {
  const format = await outputFormat(o.output, ['table', 'json', 'yaml']);
  const k = await connect(opts, ['upgradetasks']);
  if (!o.inJob) {
    // The operator runs every unfinished task in its Job: a second worker beside it would race it.
    const job = await k.api.get<KubeObject & { status?: { active?: number } }>(
      RESOURCES.jobs,
      k.namespace,
      jobName(name),
    );
    if (job && !job.metadata.deletionTimestamp && job.status?.active)
      throw new TaskBusyError(name, `Job ${k.namespace}/${jobName(name)}`);
  }
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await runKubeTask(
      {
        api: k.api,
        namespace: k.namespace,
        progress: (l) => say(`${new Date().toISOString()} ${l}`),
        signal: controller.signal,
      },
      name,
    );
    const task = await k.api.get<TaskObject>(RESOURCES.upgradeTasks, k.namespace, name);
    if (task)
      process.stdout.write(format === 'table' ? renderKubeTargets(task) : renderKubeTasks([task], format, true));
    if (result.stopped) return 130;
    // In the Job, a task that ended (even in Error) is a worker that did its job: exit 0, or
    // the Job would start pods again only to find the task finished.
    return o.inJob || result.status.phase === 'Success' ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `molt task get [NAME]` / `molt task list` on a cluster. */
export async function kubeGetTasks(opts: GlobalOptions, name: string | undefined, output: string): Promise<number> {
  const format = await outputFormat(output);
  const k = await connect(opts, ['upgradetasks']);
  let items: TaskObject[];
  if (name !== undefined) {
    const task = await k.api.get<TaskObject>(RESOURCES.upgradeTasks, k.namespace, name);
    if (!task) throw new TaskNotFoundError(name);
    items = [task];
  } else {
    items = (await k.api.list<TaskObject>(RESOURCES.upgradeTasks, k.namespace)).items;
  }
  if (items.length === 0 && (format === 'table' || format === 'wide')) {
    say(`No tasks found in namespace ${k.namespace}.`);
    return 0;
  }
  process.stdout.write(renderKubeTasks(items, format, name !== undefined));
  return 0;
}

/** `molt task describe NAME` on a cluster. */
export async function kubeDescribeTask(opts: GlobalOptions, name: string): Promise<number> {
  const k = await connect(opts, ['upgradetasks']);
  const task = await k.api.get<TaskObject>(RESOURCES.upgradeTasks, k.namespace, name);
  if (!task) throw new TaskNotFoundError(name);
  process.stdout.write(renderKubeDescribe(task));
  return 0;
}

/** `molt task cancel NAME` on a cluster: sets the annotation, then waits for the worker to end the task. */
export async function kubeCancelTask(opts: GlobalOptions, name: string, timeoutSeconds: number): Promise<number> {
  const k = await connect(opts, ['upgradetasks']);
  const task = await k.api.get<TaskObject>(RESOURCES.upgradeTasks, k.namespace, name);
  if (!task) throw new TaskNotFoundError(name);
  const done = (t: TaskObject | undefined) => t?.status?.phase === 'Success' || t?.status?.phase === 'Error';
  if (done(task)) {
    say(
      `task/${name} already finished: ${task.status?.phase}${task.status?.reason ? ` (${task.status.reason})` : ''}; nothing to cancel`,
    );
    return 0;
  }
  await k.api.mergePatch(RESOURCES.upgradeTasks, k.namespace, name, {
    metadata: { annotations: { [CANCEL_ANNOTATION]: new Date().toISOString() } },
  });
  say(`task/${name}: cancel requested; waiting for its worker (in-flight targets are set back, none start)`);
  const until = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const now = await k.api.get<TaskObject>(RESOURCES.upgradeTasks, k.namespace, name);
    if (done(now) || !now) {
      if (now) process.stdout.write(renderKubeTargets(now));
      say(`task/${name}: ${now?.status?.phase ?? 'deleted'}${now?.status?.reason ? ` (${now.status.reason})` : ''}`);
      return 0;
    }
    if (Date.now() > until)
      throw new UsageError(
        `task "${name}" did not end within ${timeoutSeconds}s of the cancel request`,
        `Is the operator running its Job? See \`molt task describe ${name}\` and \`kubectl -n ${k.namespace} get jobs\`.`,
      );
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** `molt task delete NAME` on a cluster: a Started task must be cancelled first (its Job goes with it). */
export async function kubeDeleteTask(opts: GlobalOptions, name: string): Promise<number> {
  const k = await connect(opts, ['upgradetasks']);
  const task = await k.api.get<TaskObject>(RESOURCES.upgradeTasks, k.namespace, name);
  if (!task) throw new TaskNotFoundError(name);
  if (task.status?.phase === 'Started')
    throw new UsageError(`task "${name}" is Started`, `Cancel it first: \`molt task cancel ${name}\`.`);
  await k.api.delete(RESOURCES.upgradeTasks, k.namespace, name, { propagationPolicy: 'Background' });
  process.stdout.write(`upgradetask/${name} deleted\n`);
  return 0;
}
