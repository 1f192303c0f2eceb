/**
 * One target of an UpgradeTask on Kubernetes: an App of the task's namespace. Steps, each
 * with its own status entry written before it acts: Precheck (the core's decision: skip,
 * refuse with a reason, or upgrade to a derived version and image), Apply (patch the App's
 * spec.version and spec.image — the operator then runs the App's own upgrade, scripts and
 * automatic rollback), AwaitRollout (the App's status until the new version runs ready, or
 * the operator rolled it back, or the timeout), Verify. A failed attempt sets the App's spec
 * back to the version it runs, so the task leaves it exactly as it found it.
 *
 * Resumable: a target a stopped worker left Running is read back from the App — spec already
 * at the new version: only awaited; still at the old one: tried again.
 */
import { InterruptedError } from '../../core/errors.ts';
import type { UpgradeTaskSpec } from '../../core/task.ts';
import { runAttempts } from '../../core/task-scheduler.ts';
import { shouldRetry, TASK_PRECHECK_STEP, type TargetOutcome, type TargetPhase } from '../../core/task-progress.ts';
import { RESOURCES, type ResourceApi } from '../../engines/kubernetes/index.ts';
import type { TaskTargetStatus } from '../crd/status.ts';
import { describeFields, expectationOf, fieldsOf, planTarget, specHas, targetFields, type SpecFields } from './plan.ts';
import { rolloutVerdict, verifyProblems, type AppLike, type RolloutExpectation } from './rollout.ts';
import type { TaskStatusWriter } from './status-writer.ts';

/** What a target run needs. */
export interface TargetRunContext {
  api: ResourceApi;
  namespace: string;
  spec: UpgradeTaskSpec;
  status: TaskStatusWriter;
  /** Seconds one attempt may take (spec.options.timeout). */
  timeoutSeconds: number;
  /** Aborted when the task is cancelled: in-flight rollouts are set back. */
  cancel: AbortSignal;
  /** Aborted when the worker pod stops: nothing is set back, the next run continues. */
  stop: AbortSignal;
  progress: (line: string) => void;
  /** Milliseconds between two reads of the App. @default 1000 */
  pollMs?: number;
}

type Outcome = TargetOutcome;

/** Runs the target to a settled phase (or returns it Running when the worker stops). */
export function runTarget(ctx: TargetRunContext, start: TaskTargetStatus): Promise<TaskTargetStatus> {
  type T = TaskTargetStatus & { phase: TargetPhase };
  return runAttempts<T>(start as T, {
    resume: async (t) => {
      const app = await getApp(ctx, t.name);
      const to = fieldsOf(t, 'to');
      if (!app || !specHas(app, to)) return { again: { ...t, attempts: Math.max(0, (t.attempts ?? 1) - 1) } };
      ctx.progress(`${t.name}: resuming: its spec already asks for ${describeFields(to)}; awaiting the rollout`);
      const since = ctx.status.lastEntry(t.name, 'Apply')?.startTime ?? t.startTime ?? new Date(0).toISOString();
      return {
        settled: (await finish(
          ctx,
          t,
          await awaitAndVerify(ctx, t, expectationOf(to, app.metadata.generation ?? 0, since)),
        )) as T,
      };
    },
    attempt: async (t) => (await attempt(ctx, t)) as T,
    again: (t) => retryable(ctx, t),
    onRetry: (t) => {
      ctx.status.status.retries = (ctx.status.status.retries ?? 0) + 1;
      ctx.progress(
        `${t.name}: ${t.phase} (${t.reason}); trying again (attempt ${(t.attempts ?? 0) + 1} of ${1 + ctx.spec.options.retries})`,
      );
    },
    halted: () => ctx.stop.aborted,
  });
}

function retryable(ctx: TargetRunContext, t: TaskTargetStatus): boolean {
  if (ctx.cancel.aborted || ctx.stop.aborted || t.phase === 'Running') return false;
  return shouldRetry(
    { phase: t.phase as TargetPhase, reason: t.reason, message: t.message },
    t.attempts ?? 0,
    ctx.spec.options.retries,
  );
}

/** One attempt: Precheck, then Apply + AwaitRollout + Verify when the core decides to upgrade. */
async function attempt(ctx: TargetRunContext, from: TaskTargetStatus): Promise<TaskTargetStatus> {
  const now = new Date().toISOString();
  let t: TaskTargetStatus = {
    ...from,
    phase: 'Running',
    attempts: (from.attempts ?? 0) + 1,
    startTime: from.startTime ?? now,
    reason: '',
    message: 'checking',
  };
  delete t.completedTime;
  ctx.status.setTarget(t);
  const pre = await ctx.status.begin(t.name, TASK_PRECHECK_STEP, 'checking the version guard and the upgrade rules');
  const plan = planTarget(ctx.spec, t.name, await getApp(ctx, t.name));
  if (plan.action !== 'upgrade') {
    if (plan.action === 'skip') await pre.done(plan.message);
    else await pre.failed(plan.reason, plan.message);
    return finish(ctx, t, {
      phase: plan.action === 'skip' ? 'Skipped' : 'Refused',
      reason: plan.reason,
      message: plan.message,
    });
  }
  await pre.done([plan.message, ...plan.warnings.map((w) => `WARNING: ${w}`)].join('; '));
  t = { ...t, ...targetFields(plan.from, plan.to), message: `upgrading ${plan.message}` };
  ctx.status.setTarget(t);
  const apply = await ctx.status.begin(t.name, 'Apply', `setting ${fieldList(plan.to)}`);
  const since = new Date().toISOString();
  let generation: number;
  try {
    const patched = await ctx.api.mergePatch<AppLike & { metadata: { generation?: number } }>(
      RESOURCES.apps,
      ctx.namespace,
      t.name,
      { spec: plan.to },
    );
    generation = patched.metadata.generation ?? 0;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    await apply.failed('ApplyFailed', message);
    return finish(ctx, t, { phase: 'Aborted', reason: 'ApplyFailed', message: `${message}; nothing was changed` });
  }
  await apply.done(`App ${t.name} generation ${generation}: the operator upgrades it`);
  return finish(ctx, t, await awaitAndVerify(ctx, t, expectationOf(plan.to, generation, since)));
}

function fieldList(f: SpecFields): string {
  return Object.entries(f)
    .map(([k, v]) => `spec.${k} ${v}`)
    .join(', ');
}

/** AwaitRollout, then Verify; a failed or stopped rollout is set back. */
async function awaitAndVerify(
  ctx: TargetRunContext,
  t: TaskTargetStatus,
  expect: RolloutExpectation,
): Promise<Outcome> {
  const step = await ctx.status.begin(
    t.name,
    'AwaitRollout',
    `waiting for ${expect.toRelease ?? expect.toVersion} to run ready`,
  );
  const deadline = Date.parse(expect.since) + ctx.timeoutSeconds * 1000;
  for (;;) {
    if (ctx.stop.aborted) throw ctx.stop.reason ?? new InterruptedError('Interrupted', 'the worker was stopped');
    let app: AppLike | undefined;
    try {
      app = await getApp(ctx, t.name);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      step.note(`cannot read the App (${e instanceof Error ? e.message : String(e)}); trying again`);
      await sleep(ctx.pollMs ?? 1000, ctx.stop);
      continue;
    }
    if (!app) {
      await step.failed('AppNotFound', 'the App was deleted during its upgrade');
      return { phase: 'Aborted', reason: 'AppNotFound', message: 'the App was deleted during its upgrade' };
    }
    const v = rolloutVerdict(app, expect);
    if (v.state === 'upgraded') {
      await step.done(v.message);
      return verify(ctx, t, expect);
    }
    if (v.state === 'failed' || v.state === 'refused') {
      await step.failed(v.reason, v.message);
      await setBack(ctx, t);
      return v.state === 'failed'
        ? { phase: v.phase, reason: v.reason, message: v.message }
        : { phase: 'Refused', reason: v.reason, message: v.message };
    }
    const why = ctx.cancel.aborted ? 'Cancelled' : Date.now() > deadline ? 'Timeout' : undefined;
    if (why) {
      const message =
        why === 'Cancelled'
          ? 'the task was cancelled (molt task cancel)'
          : `not done within ${ctx.timeoutSeconds}s (spec.options.timeout)`;
      await step.failed(why, `${message}; last seen: ${v.message}`);
      await setBack(ctx, t);
      const back = await awaitSetBack(ctx, t);
      return { phase: 'RolledBack', reason: why, message: `${message}; ${back}` };
    }
    step.note(v.message);
    await ctx.status.save();
    await sleep(ctx.pollMs ?? 1000, ctx.stop);
  }
}

async function verify(ctx: TargetRunContext, t: TaskTargetStatus, expect: RolloutExpectation): Promise<Outcome> {
  const step = await ctx.status.begin(
    t.name,
    'Verify',
    `checking ${expect.toRelease ? 'release' : 'version, image'}, readiness and every member`,
  );
  const app = await getApp(ctx, t.name);
  const problems = app ? verifyProblems(app, expect) : ['the App is gone'];
  if (problems.length > 0) {
    await step.failed('VerifyFailed', problems.join('; '));
    return { phase: 'Incomplete', reason: 'VerifyFailed', message: problems.join('; ') };
  }
  const what = expect.toRelease ? `release ${expect.toRelease}` : `${expect.toVersion} (${expect.toImage})`;
  await step.done(`${what} on every member, ready`);
  return { phase: 'Upgraded', reason: 'Upgraded', message: `now at ${expect.toRelease ?? expect.toVersion}` };
}

/** Sets the App's spec back to what it ran (only while it still asks for this task's change). */
async function setBack(ctx: TargetRunContext, t: TaskTargetStatus): Promise<void> {
  const from = fieldsOf(t, 'from');
  const to = fieldsOf(t, 'to');
  if (Object.keys(from).length === 0) return;
  const step = await ctx.status.begin(t.name, 'SetBack', `setting the spec back to ${describeFields(from)}`);
  if (!specHas(await getApp(ctx, t.name), to)) {
    await step.done("the spec no longer asks for this task's change; left as it is");
    return;
  }
  const ops = Object.entries(to).flatMap(([k, v]) => [
    { op: 'test', path: `/spec/${k}`, value: v },
    { op: 'replace', path: `/spec/${k}`, value: from[k as keyof SpecFields] },
  ]);
  await ctx.api.jsonPatch(RESOURCES.apps, ctx.namespace, t.name, ops);
  await step.done(`spec back at ${describeFields(from)}, as before the task`);
}

/** Waits (up to 5 minutes) for the operator to end the upgrade it was running, after the spec was set back. */
async function awaitSetBack(ctx: TargetRunContext, t: TaskTargetStatus): Promise<string> {
  const until = Date.now() + 300_000;
  const from = fieldsOf(t, 'from');
  while (Date.now() < until && !ctx.stop.aborted) {
    const s = (await getApp(ctx, t.name))?.status;
    const back = from.release ? s?.release === from.release : s?.installedVersion === from.version;
    if (s && !s.upgrade && back) return `the app runs ${describeFields(from)} again`;
    await sleep(ctx.pollMs ?? 1000, ctx.stop);
  }
  return `the operator is still rolling back to ${describeFields(from)}; see the App's status`;
}

async function finish(ctx: TargetRunContext, t: TaskTargetStatus, o: Outcome): Promise<TaskTargetStatus> {
  const done: TaskTargetStatus = {
    ...t,
    phase: o.phase,
    reason: o.reason,
    message: o.message,
    completedTime: new Date().toISOString(),
  };
  ctx.status.setTarget(done);
  await ctx.status.save();
  return done;
}

function getApp(ctx: TargetRunContext, name: string): Promise<AppLike | undefined> {
  return ctx.api.get<AppLike & { metadata: Record<string, never> }>(RESOURCES.apps, ctx.namespace, name);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
