/**
 * One reconcile pass of an App: observe → decide → act, repeated until the decision is a
 * terminal step (wait, steady, refuse, …) or a bounded number of steps ran; then the status is
 * written once (also when a step failed — the error is in the Progressing condition — and the
 * error is rethrown so the queue backs off). A refusal or an invalid spec is reported with a
 * Warning Event once per generation, not on every pass.
 */
import { toErrorRecord } from '../../core/errors.ts';
import { sameValue } from '../../core/plan.ts';
import type { EventRecorder, KubeClient, ResourceApi } from '../../engines/kubernetes/index.ts';
import { RESOURCES } from '../../engines/kubernetes/index.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import type { AppStatus } from '../crd/status.ts';
import { reconcileReleaseApp } from '../release/reconciler.ts';
import { act } from './actions.ts';
import { workerImageResolver } from '../task/reconciler.ts';
import { boundary } from '../runtime/kill-points.ts';
import { ownedBy } from '../runtime/instance.ts';
import { decide, TERMINAL, type Step } from './decide.ts';
import { FINALIZER } from './names.ts';
import { observe, type AppObject } from './observe.ts';
import { statusOf, type PassOutcome } from './status.ts';
import type { AppWorld } from './world.ts';

/** What the reconciler needs. */
export interface AppReconcilerDeps {
  api: ResourceApi;
  client: KubeClient;
  events: EventRecorder;
  log: (fields: Record<string, unknown>) => void;
  /** The operator instance (runtime/instance.ts): only Apps labelled for it are reconciled. */
  instance?: string;
  /** molt's image for volume copy Jobs (the operator's own; task/reconciler.ts workerImageResolver). */
  workerImage?: () => Promise<string>;
}

/** Steps one pass may take before it writes the status and lets other keys run. */
const MAX_STEPS = 25;

/** Reconciles the App `namespace/name`. */
export async function reconcileApp(
  deps: AppReconcilerDeps,
  key: string,
  signal: AbortSignal,
): Promise<ReconcileResult> {
  const [namespace = '', name = ''] = key.split('/');
  let app = await deps.api.get<AppObject>(RESOURCES.apps, namespace, name, signal);
  if (!app || !ownedBy(app, deps.instance)) return {};
  app = { ...app, apiVersion: 'molt.dev/v1alpha1', kind: 'App' };
  if (!app.metadata.deletionTimestamp && !(app.metadata.finalizers ?? []).includes(FINALIZER))
    app = await addFinalizer(deps, app);
  if (app.spec && 'release' in app.spec) {
    if (!app.metadata.deletionTimestamp) return reconcileReleaseApp(deps, app, signal);
    await removeFinalizer(deps, app); // its StatefulSets and Services go with it (owner references); no ExecPods
    return {};
  }
  const log = (line: string) => deps.log({ level: 'info', app: key, msg: line });
  let world: AppWorld | undefined;
  let outcome: PassOutcome | undefined;
  const copyImage = deps.workerImage ?? workerImageResolver(deps.api);
  try {
    for (let i = 0; i < MAX_STEPS && !outcome; i++) {
      world = await observe(deps.api, app, signal);
      const step = decide(world);
      if (TERMINAL.has(step.kind)) {
        outcome = { step };
        break;
      }
      deps.log({ level: 'info', app: key, step: step.kind, ...stepFields(step), msg: 'step' });
      const ref = { name, namespace, uid: app.metadata.uid ?? '' };
      boundary(appKillPoint(step.kind), 'before');
      const follow = await act(
        { api: deps.api, client: deps.client, events: deps.events, app, ref, world, signal, log, copyImage },
        step,
      );
      boundary(appKillPoint(step.kind), 'after');
      if (step.kind === 'Delete') return {};
      if (follow && TERMINAL.has(follow.kind)) {
        world = await observe(deps.api, app, signal);
        outcome = { step: follow };
      }
    }
    outcome ??= { step: { kind: 'Wait', reason: 'Progressing', message: 'more steps to take', afterMs: 0 } };
  } catch (e) {
    if (signal.aborted) throw e; // shutting down: the next leader writes the status
    const error = toErrorRecord(e);
    if (world)
      await writeStatus(deps, app, world, { error }).catch((se: unknown) =>
        log(`could not write status: ${String(se)}`),
      );
    throw e;
  }
  if (world) await writeStatus(deps, app, world, outcome);
  const step = 'step' in outcome ? outcome.step : undefined;
  return step?.kind === 'Wait' ? { requeueAfterMs: step.afterMs } : {};
}

/** A kill-point name of the App reconciler (`MOLT_TEST_KILL_AT=<name>:before|after`). */
export function appKillPoint(kind: Step['kind']): string {
  return `op.app.${kind}`;
}

function stepFields(step: Step): Record<string, unknown> {
  const { kind: _kind, ...rest } = step;
  return rest;
}

async function addFinalizer(deps: AppReconcilerDeps, app: AppObject): Promise<AppObject> {
  const ops = app.metadata.finalizers
    ? [{ op: 'add', path: '/metadata/finalizers/-', value: FINALIZER }]
    : [{ op: 'add', path: '/metadata/finalizers', value: [FINALIZER] }];
  const updated = await deps.api.jsonPatch<AppObject>(
    RESOURCES.apps,
    app.metadata.namespace,
    app.metadata.name ?? '',
    ops,
  );
  return { ...updated, apiVersion: 'molt.dev/v1alpha1', kind: 'App' };
}

async function removeFinalizer(deps: AppReconcilerDeps, app: AppObject): Promise<void> {
  const i = (app.metadata.finalizers ?? []).indexOf(FINALIZER);
  if (i < 0) return;
  await deps.api.jsonPatch(RESOURCES.apps, app.metadata.namespace, app.metadata.name ?? '', [
    { op: 'test', path: `/metadata/finalizers/${i}`, value: FINALIZER },
    { op: 'remove', path: `/metadata/finalizers/${i}` },
  ]);
}

/** Writes the status when it changed; records a Warning Event when a refusal is new. */
async function writeStatus(
  deps: AppReconcilerDeps,
  app: AppObject,
  world: AppWorld,
  outcome: PassOutcome,
): Promise<void> {
  const previous = app.status as AppStatus | undefined;
  const status = statusOf(world, outcome, previous, new Date().toISOString());
  const step = 'step' in outcome ? outcome.step : undefined;
  if (step && (step.kind === 'Refuse' || step.kind === 'Invalid')) {
    const before = previous?.conditions?.find((c) => c.type === 'Progressing');
    const now = status.conditions?.find((c) => c.type === 'Progressing');
    if (
      !before ||
      before.reason !== now?.reason ||
      before.message !== now?.message ||
      previous?.observedGeneration !== status.observedGeneration
    ) {
      await deps.events.record({
        regarding: app,
        type: 'Warning',
        reason: step.reason,
        action: step.kind === 'Refuse' ? 'RefuseChange' : 'Validate',
        note: now?.message ?? step.message,
      });
    }
  }
  if (previous && sameValue(previous, status)) return;
  const patch: Record<string, unknown> = { ...status };
  for (const k of Object.keys(previous ?? {})) if (!(k in status)) patch[k] = null;
  await deps.api.mergePatch(
    RESOURCES.apps,
    app.metadata.namespace,
    app.metadata.name ?? '',
    { status: patch },
    'status',
  );
}
