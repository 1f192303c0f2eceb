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
import { decideNonInlineTarget, decideTarget, type TargetDecision, type UpgradeTaskSpec } from '../../core/task.ts';
import { shouldRetry, TASK_PRECHECK_STEP, type TargetOutcome, type TargetPhase } from '../../core/task-progress.ts';
import { RESOURCES, type ResourceApi } from '../../engines/kubernetes/index.ts';
import { desiredOf } from '../app/observe.ts';
import type { TaskTargetStatus } from '../crd/status.ts';
import { rolloutVerdict, unsettledReason, verifyProblems, type AppLike, type RolloutExpectation } from './rollout.ts';
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
export async function runTarget(ctx: TargetRunContext, start: TaskTargetStatus): Promise<TaskTargetStatus> {
  let t = start;
  if (t.phase === 'Running') {
    const app = await getApp(ctx, t.name);
    const spec = app?.spec ?? {};
    if (app && spec['version'] === t.toVersion && spec['image'] === t.toImage) {
      ctx.progress(`${t.name}: resuming: its spec is already at ${t.toVersion}; awaiting the rollout`);
      const since = ctx.status.lastEntry(t.name, 'Apply')?.startTime ?? t.startTime ?? new Date(0).toISOString();
      t = await finish(ctx, t, await awaitAndVerify(ctx, t, { toVersion: t.toVersion ?? '', toImage: t.toImage ?? '', generation: app.metadata.generation ?? 0, since }));
      if (!retryable(ctx, t)) return t;
    } else {
      t = { ...t, attempts: Math.max(0, (t.attempts ?? 1) - 1) };
    }
  }
  for (;;) {
    if (ctx.stop.aborted) return t;
    t = await attempt(ctx, t);
    if (!retryable(ctx, t)) return t;
    ctx.status.status.retries = (ctx.status.status.retries ?? 0) + 1;
    ctx.progress(`${t.name}: ${t.phase} (${t.reason}); trying again (attempt ${(t.attempts ?? 0) + 1} of ${1 + ctx.spec.options.retries})`);
  }
}

function retryable(ctx: TargetRunContext, t: TaskTargetStatus): boolean {
  if (ctx.cancel.aborted || ctx.stop.aborted || t.phase === 'Running') return false;
  return shouldRetry({ phase: t.phase as TargetPhase, reason: t.reason, message: t.message }, t.attempts ?? 0, ctx.spec.options.retries);
}

/** One attempt: Precheck, then Apply + AwaitRollout + Verify when the core decides to upgrade. */
async function attempt(ctx: TargetRunContext, from: TaskTargetStatus): Promise<TaskTargetStatus> {
  const now = new Date().toISOString();
  let t: TaskTargetStatus = { ...from, phase: 'Running', attempts: (from.attempts ?? 0) + 1, startTime: from.startTime ?? now, reason: '', message: 'checking' };
  delete t.completedTime;
  ctx.status.setTarget(t);
  const pre = await ctx.status.begin(t.name, TASK_PRECHECK_STEP, 'checking the version guard and the upgrade rules');
  const app = await getApp(ctx, t.name);
  const decision = decide(ctx.spec, t.name, app);
  if (decision.action !== 'upgrade') {
    if (decision.action === 'skip') await pre.done(decision.message);
    else await pre.failed(decision.reason, decision.message);
    return finish(ctx, t, { phase: decision.action === 'skip' ? 'Skipped' : 'Refused', reason: decision.reason, message: decision.message });
  }
  await pre.done([decision.message, ...decision.warnings.map((w) => `WARNING: ${w}`)].join('; '));
  const installed = app?.status;
  t = { ...t, fromVersion: installed?.installedVersion, fromImage: installed?.image, toVersion: decision.manifest.spec.version, toImage: decision.manifest.spec.image, message: `upgrading ${decision.message}` };
  ctx.status.setTarget(t);
  const apply = await ctx.status.begin(t.name, 'Apply', `setting spec.version ${t.toVersion}, spec.image ${t.toImage}`);
  const since = new Date().toISOString();
  let generation: number;
  try {
    const patched = await ctx.api.mergePatch<AppLike & { metadata: { generation?: number } }>(RESOURCES.apps, ctx.namespace, t.name, { spec: { version: t.toVersion, image: t.toImage } });
    generation = patched.metadata.generation ?? 0;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    await apply.failed('ApplyFailed', message);
    return finish(ctx, t, { phase: 'Aborted', reason: 'ApplyFailed', message: `${message}; nothing was changed` });
  }
  await apply.done(`App ${t.name} generation ${generation}: the operator upgrades it`);
  return finish(ctx, t, await awaitAndVerify(ctx, t, { toVersion: t.toVersion ?? '', toImage: t.toImage ?? '', generation, since }));
}

/** The core's decision for the App as it is now. */
function decide(spec: UpgradeTaskSpec, name: string, app: AppLike | undefined): TargetDecision {
  if (!app) return { action: 'refuse', reason: 'AppNotFound', message: `app "${name}" no longer exists in the namespace` };
  if (app.spec && 'release' in app.spec) {
    const release = String(app.status?.release ?? app.spec['release']);
    return decideNonInlineTarget(spec, name, { kind: 'release', release });
  }
  if (spec.toVersion !== undefined && app.spec?.['version'] === spec.toVersion && app.status?.installedVersion === spec.toVersion && !app.status.upgrade) {
    return { action: 'skip', reason: 'AlreadyAtTarget', message: `already at ${spec.toVersion}; nothing to do` };
  }
  const unsettled = unsettledReason(app);
  if (unsettled) return { action: 'refuse', ...unsettled };
  const desired = desiredOf({ ...app, metadata: { ...app.metadata } });
  if (!desired.ok) return { action: 'refuse', reason: desired.reason, message: desired.message };
  return decideTarget(spec, name, desired.manifest);
}

/** AwaitRollout, then Verify; a failed or stopped rollout is set back. */
async function awaitAndVerify(ctx: TargetRunContext, t: TaskTargetStatus, expect: RolloutExpectation): Promise<Outcome> {
  const step = await ctx.status.begin(t.name, 'AwaitRollout', `waiting for ${expect.toVersion} to run ready`);
  const deadline = Date.parse(expect.since) + ctx.timeoutSeconds * 1000;
  for (;;) {
    if (ctx.stop.aborted) throw ctx.stop.reason ?? new InterruptedError('Interrupted', 'the worker was stopped');
    const app = await getApp(ctx, t.name);
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
      return v.state === 'failed' ? { phase: v.phase, reason: v.reason, message: v.message } : { phase: 'Refused', reason: v.reason, message: v.message };
    }
    const why = ctx.cancel.aborted ? 'Cancelled' : Date.now() > deadline ? 'Timeout' : undefined;
    if (why) {
      const message = why === 'Cancelled' ? 'the task was cancelled (molt task cancel)' : `not done within ${ctx.timeoutSeconds}s (spec.options.timeout)`;
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
  const step = await ctx.status.begin(t.name, 'Verify', `checking version, image, readiness and every member`);
  const app = await getApp(ctx, t.name);
  const problems = app ? verifyProblems(app, expect.toVersion, expect.toImage) : ['the App is gone'];
  if (problems.length > 0) {
    await step.failed('VerifyFailed', problems.join('; '));
    return { phase: 'Incomplete', reason: 'VerifyFailed', message: problems.join('; ') };
  }
  await step.done(`${expect.toVersion} (${expect.toImage}) on every member, ready`);
  return { phase: 'Upgraded', reason: 'Upgraded', message: `now at ${expect.toVersion}` };
}

/** Sets the App's spec back to the version it ran (only while it still asks for ours). */
async function setBack(ctx: TargetRunContext, t: TaskTargetStatus): Promise<void> {
  if (!t.fromVersion || !t.fromImage) return;
  const step = await ctx.status.begin(t.name, 'SetBack', `setting spec.version back to ${t.fromVersion}`);
  const app = await getApp(ctx, t.name);
  if (app?.spec?.['version'] !== t.toVersion || app?.spec?.['image'] !== t.toImage) {
    await step.done('the spec no longer asks for this task\'s version; left as it is');
    return;
  }
  await ctx.api.jsonPatch(RESOURCES.apps, ctx.namespace, t.name, [
    { op: 'test', path: '/spec/version', value: t.toVersion }, { op: 'replace', path: '/spec/version', value: t.fromVersion },
    { op: 'replace', path: '/spec/image', value: t.fromImage },
  ]);
  await step.done(`spec back at ${t.fromVersion} (${t.fromImage}), as before the task`);
}

/** Waits (up to 5 minutes) for the operator to end the upgrade it was running, after the spec was set back. */
async function awaitSetBack(ctx: TargetRunContext, t: TaskTargetStatus): Promise<string> {
  const until = Date.now() + 300_000;
  while (Date.now() < until && !ctx.stop.aborted) {
    const s = (await getApp(ctx, t.name))?.status;
    if (s && !s.upgrade && s.installedVersion === t.fromVersion) return `the app runs ${t.fromVersion} again`;
    await sleep(ctx.pollMs ?? 1000, ctx.stop);
  }
  return `the operator is still rolling back to ${t.fromVersion}; see the App's status`;
}

async function finish(ctx: TargetRunContext, t: TaskTargetStatus, o: Outcome): Promise<TaskTargetStatus> {
  const done: TaskTargetStatus = { ...t, phase: o.phase, reason: o.reason, message: o.message, completedTime: new Date().toISOString() };
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
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
