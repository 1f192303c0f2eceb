/**
 * Waiting on the cluster as local commands wait on the engine: after a write, the App's status
 * is read until the operator has observed the new generation and the App runs the spec (done),
 * or the operator refused, rolled back or failed it (failed, with the reason it wrote), or the
 * deadline passed (the operation goes on in the cluster). `appOutcome` is the pure reading.
 */
import { RESOURCES, type ResourceApi } from '../engines/kubernetes/index.ts';
import type { AppStatus, KubeCondition } from '../operator/crd/status.ts';
import type { MoltObject } from './kube-connect.ts';
import { KubeAppNotFoundError, WaitTimeoutError } from './kube-errors.ts';

/** Where an App stands after a write. */
export type AppOutcome =
  | { kind: 'pending'; message: string }
  | { kind: 'done' }
  /** `ended`: the upgrade ran and ended so; `reason` is then its failure code, as the local engine reports it. */
  | { kind: 'failed'; reason: string; message: string; ended?: 'RolledBack' | 'Aborted' };

/** Progressing reasons with status False that mean "not there yet", not "it failed". */
const NOT_FAILED = new Set([
  'UpToDate',
  'MembersNotReady',
  'Installing',
  'Progressing',
  'ReleaseNotFound',
  'ReconcileError',
]);

function condition(s: AppStatus, type: string): KubeCondition | undefined {
  return s.conditions?.find((c) => c.type === type);
}

/** True when the App runs what its spec asks: the version and image, or the release. */
export function atSpec(app: MoltObject): boolean {
  const s = (app.status ?? {}) as AppStatus;
  const spec = app.spec ?? {};
  if (typeof spec['release'] === 'string') return s.release === spec['release'];
  return s.installedVersion === spec['version'] && s.image === spec['image'];
}

/** The outcome of generation `generation` of the App, as its status tells it. */
export function appOutcome(app: MoltObject, generation: number): AppOutcome {
  const s = (app.status ?? {}) as AppStatus;
  if ((s.observedGeneration ?? 0) < generation)
    return { kind: 'pending', message: `waiting for the operator to observe generation ${generation}` };
  const message = s.message ?? s.phase ?? 'no status yet';
  if (s.phase === 'Upgrading' || s.phase === 'RollingBack') return { kind: 'pending', message };
  if (s.phase === 'Running' && atSpec(app) && condition(s, 'Ready')?.status === 'True') return { kind: 'done' };
  const progressing = condition(s, 'Progressing');
  const ended = progressing?.status === 'False' ? endedUpgrade(s, progressing.reason) : undefined;
  if (ended) return ended;
  if (progressing && progressing.status === 'False' && !NOT_FAILED.has(progressing.reason))
    return { kind: 'failed', reason: progressing.reason, message: progressing.message };
  if (s.phase === 'Failed') return { kind: 'failed', reason: progressing?.reason ?? 'Failed', message };
  return { kind: 'pending', message };
}

/** An upgrade that was rolled back or aborted, told by its failure code (status.lastUpgrade) as locally. */
function endedUpgrade(s: AppStatus, reason: string): AppOutcome | undefined {
  const last = s.lastUpgrade;
  if ((reason !== 'RolledBack' && reason !== 'Aborted') || last?.outcome !== reason || !last.reason) return undefined;
  return { kind: 'failed', reason: last.reason, message: last.message, ended: reason };
}

/** What waiting needs. */
export interface WaitOptions {
  api: ResourceApi;
  namespace: string;
  name: string;
  generation: number;
  timeoutSeconds: number;
  /** Shown in the timeout's hint. */
  watch: string;
  /** Called with each new progress message. */
  progress: (line: string) => void;
  /** @default 500 */
  intervalMs?: number;
}

/** Polls the App until its outcome is known; throws WaitTimeoutError at the deadline. */
export async function waitForApp(
  o: WaitOptions,
): Promise<{ app: MoltObject; outcome: Exclude<AppOutcome, { kind: 'pending' }> }> {
  const deadline = Date.now() + o.timeoutSeconds * 1000;
  let last = '';
  for (;;) {
    const app = await o.api.get<MoltObject>(RESOURCES.apps, o.namespace, o.name);
    if (!app) throw new KubeAppNotFoundError(o.name, o.namespace);
    const outcome = appOutcome(app, o.generation);
    if (outcome.kind !== 'pending') return { app, outcome };
    if (outcome.message !== last) o.progress(outcome.message);
    last = outcome.message;
    if (Date.now() >= deadline) throw new WaitTimeoutError(`app/${o.name}`, o.timeoutSeconds, outcome.message, o.watch);
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 500));
  }
}
