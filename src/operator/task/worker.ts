/**
 * The UpgradeTask worker on Kubernetes — what `molt --in-cluster task run NAME` runs in the
 * Job the operator creates (and `molt --kubeconfig K task run NAME` from outside). It reads
 * the task, fixes its targets in the status at the first run (the Apps of the task's
 * namespace its target selects), then runs them `concurrency` at a time (worker-target.ts),
 * stopping new ones once the failed share exceeds `maxFailureRatio` or a cancel is
 * requested, and writes the final phase. All progress is in the task's status, written
 * before each act, so a worker pod that is killed and replaced continues: settled targets
 * are never touched again, a Running one is read back from its App.
 */
import { TaskNotFoundError } from '../../core/task-errors.ts';
import { schedule } from '../../core/task-scheduler.ts';
import { durationSeconds, selectApps, type SelectableApp, type UpgradeTaskSpec } from '../../core/task.ts';
import {
  countTargets,
  failureRatioExceeded,
  finalPhase,
  type StopCause,
  type TargetPhase,
} from '../../core/task-progress.ts';
import { upgradeTaskDocument } from '../../core/task-schema.ts';
import { RESOURCES, type KubeObject, type ResourceApi } from '../../engines/kubernetes/index.ts';
import type { TaskTargetStatus, UpgradeTaskStatus } from '../crd/status.ts';
import { TaskStatusWriter } from './status-writer.ts';
import { CANCEL_ANNOTATION } from './template.ts';
import { runTarget, type TargetRunContext } from './worker-target.ts';

/** An UpgradeTask object as the API returns it. */
export interface TaskObject extends KubeObject {
  spec?: unknown;
  status?: UpgradeTaskStatus;
}

/** What the worker needs. */
export interface KubeWorkerDeps {
  api: ResourceApi;
  namespace: string;
  /** One line per target event (stderr). */
  progress: (line: string) => void;
  /** Aborted when the worker must stop (SIGTERM): the task stays Started, the next run continues. */
  signal: AbortSignal;
  /** Milliseconds between two reads of an App, and of the task for a cancel request. @default 1000 */
  pollMs?: number;
}

/** How a run ended. */
export interface KubeWorkerResult {
  status: UpgradeTaskStatus;
  stopped: boolean;
}

/** Runs the task until Success or Error (a finished task is returned as is). */
export async function runKubeTask(deps: KubeWorkerDeps, name: string): Promise<KubeWorkerResult> {
  const task = await deps.api.get<TaskObject>(RESOURCES.upgradeTasks, deps.namespace, name);
  if (!task) throw new TaskNotFoundError(name);
  const status = new TaskStatusWriter(deps.api, deps.namespace, name, task.status);
  const phase = task.status?.phase;
  if (phase === 'Success' || phase === 'Error') return { status: status.status, stopped: false };
  const parsed = upgradeTaskDocument().safeParse({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'UpgradeTask',
    metadata: { name, labels: task.metadata.labels ?? {} },
    spec: task.spec,
  });
  if (!parsed.success) {
    const message = parsed.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ');
    return end(deps, status, { phase: 'Error', reason: 'InvalidSpec', message });
  }
  const spec = parsed.data.spec as UpgradeTaskSpec;
  begin(deps, status, name);
  if (!status.targets.length || phase !== 'Started') await selectTargets(deps, status, spec);
  status.interruptWaiting();
  await status.save();
  return work(deps, status, name, spec, task);
}

function begin(deps: KubeWorkerDeps, status: TaskStatusWriter, name: string): void {
  const s = status.status;
  const resumed = s.phase === 'Started';
  Object.assign(s, {
    phase: 'Started',
    startTime: s.startTime ?? new Date().toISOString(),
    runs: (s.runs ?? 0) + 1,
    retries: s.retries ?? 0,
  });
  deps.progress(
    resumed
      ? `task/${name}: resuming (run ${s.runs}): a previous worker stopped before finishing`
      : `task/${name}: started`,
  );
}

/** Selects the Apps of the namespace that the target names, and fixes them as the task's targets. */
async function selectTargets(deps: KubeWorkerDeps, status: TaskStatusWriter, spec: UpgradeTaskSpec): Promise<void> {
  const apps = await deps.api.list<
    KubeObject & { spec?: Record<string, unknown>; status?: { installedVersion?: string } }
  >(RESOURCES.apps, deps.namespace);
  const selectable: SelectableApp[] = apps.items.map((a) => ({
    name: a.metadata.name ?? '',
    labels: a.metadata.labels ?? {},
    kind: a.spec && 'release' in a.spec ? 'release' : 'app',
  }));
  const byName = new Map(apps.items.map((a) => [a.metadata.name ?? '', a]));
  status.status.targets = selectApps(spec.target, selectable).map((name): TaskTargetStatus => {
    const installed = byName.get(name)?.status?.installedVersion;
    return {
      name,
      phase: 'Pending',
      reason: '',
      message: '',
      attempts: 0,
      ...(installed ? { fromVersion: installed } : {}),
      ...(spec.toVersion ? { toVersion: spec.toVersion } : {}),
    };
  });
  status.recount();
  deps.progress(`${status.targets.length} target(s): ${status.targets.map((t) => t.name).join(', ') || 'none'}`);
}

async function work(
  deps: KubeWorkerDeps,
  status: TaskStatusWriter,
  name: string,
  spec: UpgradeTaskSpec,
  task: TaskObject,
): Promise<KubeWorkerResult> {
  const cancel = new AbortController();
  const cancelled = (t: TaskObject | undefined) => t?.metadata.annotations?.[CANCEL_ANNOTATION] !== undefined;
  if (cancelled(task)) cancel.abort();
  const watch = setInterval(() => {
    void deps.api.get<TaskObject>(RESOURCES.upgradeTasks, deps.namespace, name).then(
      (t) => {
        if (cancelled(t) && !cancel.signal.aborted) {
          deps.progress('cancel requested: in-flight targets are set back, no new targets start');
          cancel.abort();
        }
      },
      () => undefined,
    );
  }, deps.pollMs ?? 1000);
  const ctx: TargetRunContext = {
    api: deps.api,
    namespace: deps.namespace,
    spec,
    status,
    cancel: cancel.signal,
    stop: deps.signal,
    progress: deps.progress,
    timeoutSeconds: durationSeconds(spec.options.timeout) ?? 600,
    ...(deps.pollMs ? { pollMs: deps.pollMs } : {}),
  };
  try {
    const stop = await pool(ctx, deps);
    if (deps.signal.aborted) {
      await status.save();
      deps.progress(`task/${name}: stopped; the next run continues`);
      return { status: status.status, stopped: true };
    }
    const now = new Date().toISOString();
    const why: StopCause = cancel.signal.aborted ? 'Cancelled' : stop;
    for (const t of status.targets) {
      if (t.phase === 'Pending' && why)
        status.setTarget({
          ...t,
          phase: 'NotStarted',
          reason: why,
          message: 'not touched: the task stopped before reaching it',
          completedTime: now,
        });
    }
    return await end(deps, status, finalPhase(counts(status), spec.options.maxFailureRatio, why));
  } finally {
    clearInterval(watch);
  }
}

/** Runs targets through the core scheduler `concurrency` at a time; returns why it stopped starting new ones, if it did. */
function pool(ctx: TargetRunContext, deps: KubeWorkerDeps): Promise<StopCause> {
  return schedule(
    ctx.status.targets.map((t) => ({ name: t.name, phase: t.phase as TargetPhase })),
    {
      concurrency: ctx.spec.options.concurrency,
      halted: () => deps.signal.aborted,
      stopping: () => ctx.cancel.aborted,
      failureRatioExceeded: () => failureRatioExceeded(counts(ctx.status), ctx.spec.options.maxFailureRatio),
      run: async ({ name }) => {
        const t = ctx.status.targets.find((x) => x.name === name);
        if (!t) return;
        await runTarget(ctx, t).then(
          (done) => {
            const c = counts(ctx.status);
            deps.progress(
              `[${c.done + c.failed}/${c.total}] ${done.name} ${done.phase}${done.phase === 'Upgraded' ? ` ${done.fromVersion} → ${done.toVersion}` : `: ${done.reason} — ${done.message}`}`,
            );
          },
          async (e: unknown) => {
            if (deps.signal.aborted) return;
            const message = e instanceof Error ? e.message : String(e);
            ctx.status.setTarget({
              ...t,
              phase: 'Incomplete',
              reason: 'Internal',
              message,
              completedTime: new Date().toISOString(),
            });
            await ctx.status.save().catch(() => undefined);
            deps.progress(`${t.name}: Incomplete: ${message}`);
          },
        );
      },
    },
  );
}

async function end(
  deps: KubeWorkerDeps,
  status: TaskStatusWriter,
  final: { phase: 'Success' | 'Error'; reason: string; message: string },
): Promise<KubeWorkerResult> {
  Object.assign(status.status, { ...final, completedTime: new Date().toISOString() });
  status.recount();
  await status.save();
  deps.progress(`${final.phase} (${final.reason}): ${final.message}`);
  return { status: status.status, stopped: false };
}

function counts(status: TaskStatusWriter) {
  return countTargets(status.targets.map((t) => t.phase as TargetPhase));
}
