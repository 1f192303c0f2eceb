/**
 * Keeping apps running: `molt start` / `molt stop` on purpose (recorded as the app's run
 * intent), convergence of an installed app to that intent (`apply` of an unchanged manifest,
 * `molt start`, `molt up`), and `molt up`: every app that should run and does not is started,
 * dependencies first, after finishing or rolling back whatever a crash left in flight.
 */
import { AppNotFoundError, MoltError, NotReadyError } from '../core/errors.ts';
import { converge, DependencyCycle, startOrder, type Convergence } from '../core/converge.ts';
import type { AppManifest } from '../core/model.ts';
import { MEMBER_LABEL } from '../core/release.ts';
import { initialState } from '../core/upgrade-machine.ts';
import { RunIntents } from '../store/intents.ts';
import { ReleaseStore } from '../store/release-store.ts';
import type { AppRecord } from '../store/types.ts';
import { planOperation, resumeInFlight, withLock } from './app-service.ts';
import { awaitHealthy } from './health.ts';
import { awaitReady } from './probe.ts';
import { recoverReleaseApp } from './release-service.ts';
import { runOperation, type RunDeps } from './run-operation.ts';
import { observeApp } from './observe.ts';

export { observeApp, observeApps, unlabelledContainer } from './observe.ts';

/** What converging one app did. */
export interface Converged {
  action: Convergence['action'];
  /** Why (the engine's view before acting). */
  reason: string;
  /** What molt did and saw (started, ready after …). */
  detail: string;
}

/** Brings an installed app to its run intent; the caller holds its lock. `wait`: also for a running one's readiness. */
export async function convergeLocked(deps: RunDeps, record: AppRecord, wait = false): Promise<Converged> {
  const manifest = requireManifest(record);
  const container = await observeApp(deps, record);
  const decision = converge(container, new RunIntents(deps.store).get(record.name));
  switch (decision.action) {
    case 'none': {
      const detail =
        container?.running && wait
          ? await awaitRunning(deps, manifest, container.id, record.status.ip, false)
          : decision.reason;
      return { ...decision, detail };
    }
    case 'start': {
      deps.log(`starting ${record.name}: ${decision.reason}`);
      await deps.engine.startContainer(container!.id);
      return {
        ...decision,
        detail: `started; ${await awaitRunning(deps, manifest, container!.id, record.status.ip, true)}`,
      };
    }
    case 'recreate':
      return { ...decision, detail: await recreate(deps, record, manifest) };
  }
}

/** Creates the app's container again from its recorded manifest (an install on the same volumes and IP). */
async function recreate(deps: RunDeps, record: AppRecord, manifest: AppManifest): Promise<string> {
  deps.log(`recreating ${record.name} ${manifest.spec.version}: its container is gone`);
  const plan = await planOperation(deps, manifest, manifest, { action: 'none', reason: 'recreate' }, 'apply');
  if (plan.old) {
    // The container turned up after all (e.g. parked under another name): start it instead of a new one.
    await deps.engine.startContainer(plan.old.container.id);
    return `started ${plan.old.container.name}`;
  }
  const op = deps.store.createOperation({
    app: record.name,
    kind: 'install',
    fromVersion: manifest.spec.version,
    toVersion: manifest.spec.version,
    plan: { ...plan, warnings: ['recreated: the container was gone'] },
    state: initialState('install'),
  });
  const done = await runOperation(deps, op);
  if (done.state.phase !== 'Succeeded') {
    const cause = 'cause' in done.state ? done.state.cause : undefined;
    throw new NotReadyError(
      'ContainerExited',
      `recreating ${record.name} failed: ${cause?.message ?? done.state.phase}`,
      cause?.hint ?? 'See `molt history` for the steps.',
    );
  }
  return `recreated at ${done.facts.ip ?? '?'} (operation ${op.id})`;
}

/** Waits for the startup probe (a fresh start: also minReadySeconds), then the healthcheck when there is one. */
async function awaitRunning(
  deps: RunDeps,
  manifest: AppManifest,
  id: string,
  ip: string | undefined,
  fresh: boolean,
): Promise<string> {
  const { spec } = manifest;
  const address = ip ?? Object.values((await deps.engine.inspectContainer(id))?.networks ?? {})[0] ?? '';
  const ready = await awaitReady(deps.engine, {
    containerId: id,
    ip: address,
    probe: spec.probes.startup,
    minReadySeconds: fresh ? spec.minReadySeconds : 0,
    signal: deps.signal,
  });
  if (!spec.healthcheck) return ready;
  return `${ready}; ${await awaitHealthy(deps.engine, id, address, spec.healthcheck, deps.signal)}`;
}

function requireManifest(record: AppRecord): AppManifest {
  if (!record.manifest) throw new AppNotFoundError(record.name);
  return record.manifest;
}

function installedApp(deps: RunDeps, name: string): AppRecord {
  const record = deps.store.getApp(name);
  if (!record?.manifest) throw new AppNotFoundError(name);
  return record;
}

/** `molt start NAME`: records that it should run, then starts (or recreates) it and waits until ready. */
export async function startApp(deps: RunDeps, name: string): Promise<Converged> {
  installedApp(deps, name);
  return withLock(deps, name, `molt start ${name}`, async () => {
    await resumeInFlight(deps, name);
    new RunIntents(deps.store).set(name, 'running');
    return convergeLocked(deps, installedApp(deps, name), true);
  });
}

/** `molt stop NAME`: records that it is stopped on purpose (so `up`, `apply` and the status respect it), then stops it. */
export async function stopApp(deps: RunDeps, name: string): Promise<string> {
  installedApp(deps, name);
  return withLock(deps, name, `molt stop ${name}`, async () => {
    await resumeInFlight(deps, name);
    const record = installedApp(deps, name);
    new RunIntents(deps.store).set(name, 'stopped');
    const container = await observeApp(deps, record);
    if (!container) return 'its container is gone; recorded as stopped';
    if (!container.running) return `already stopped; recorded as stopped on purpose`;
    await deps.engine.stopContainer(container.id, record.manifest!.spec.stopTimeoutSeconds);
    return `stopped ${container.name} (${container.id.slice(0, 12)})`;
  });
}

/** What `molt up` did for one app. */
export interface UpResult {
  app: string;
  outcome: 'running' | 'started' | 'recreated' | 'stopped' | 'skipped' | 'failed';
  detail: string;
}

/** Refused before anything is touched: `dependsOn` forms a cycle. */
export class DependencyCycleError extends MoltError {
  readonly code = 'DependencyCycle';
  constructor(cycle: string[]) {
    super(
      `spec.dependsOn of the installed apps forms a cycle: ${cycle.join(' → ')}; molt up started nothing`,
      `Remove one of these dependencies (apply the app's manifest without it), then run \`molt up\` again.`,
    );
  }
}

/** The installed inline apps as `up` orders them (release members have no dependsOn). */
function orderOf(records: AppRecord[]): ReturnType<typeof startOrder> {
  try {
    return startOrder(records.map((r) => ({ name: r.name, dependsOn: r.manifest?.spec.dependsOn ?? [] })));
  } catch (e) {
    if (e instanceof DependencyCycle) throw new DependencyCycleError(e.cycle);
    throw e;
  }
}

/**
 * `molt up`: first finishes or rolls back every operation a crash left in flight, then starts
 * every installed app that should run and does not, dependencies first, each ready (and
 * healthy) before its dependents start. A dependency cycle is refused before anything is done.
 */
export async function upApps(deps: RunDeps, report: (r: UpResult) => void): Promise<UpResult[]> {
  const installed = () => deps.store.listApps().filter((r) => r.manifest !== undefined);
  orderOf(installed());
  await recoverAll(deps);
  const records = new Map(installed().map((r) => [r.name, r]));
  const { order, blocked } = orderOf([...records.values()]);
  const results = new Map<string, UpResult>();
  const done = (r: UpResult) => {
    results.set(r.app, r);
    report(r);
  };
  for (const b of blocked)
    done({ app: b.name, outcome: 'skipped', detail: `depends on "${b.missing}", which is not an installed app` });
  const intents = new RunIntents(deps.store);
  for (const name of order) {
    const record = records.get(name)!;
    const waiting = (record.manifest?.spec.dependsOn ?? [])
      .map((d) => results.get(d))
      .find((r) => r && !['running', 'started', 'recreated'].includes(r.outcome));
    if (waiting) {
      done({
        app: name,
        outcome: 'skipped',
        detail: `not started: its dependency ${waiting.app} is ${waiting.outcome === 'stopped' ? 'stopped on purpose' : 'not running'}`,
      });
      continue;
    }
    if (intents.get(name)?.desired === 'stopped') {
      done({
        app: name,
        outcome: 'stopped',
        detail: 'stopped on purpose with `molt stop`; left stopped (`molt start` runs it)',
      });
      continue;
    }
    try {
      const c = await withLock(deps, name, 'molt up', () => convergeLocked(deps, deps.store.getApp(name)!, true));
      done({
        app: name,
        outcome: c.action === 'none' ? 'running' : c.action === 'start' ? 'started' : 'recreated',
        detail: c.detail,
      });
    } catch (e) {
      done({ app: name, outcome: 'failed', detail: e instanceof MoltError ? `${e.code}: ${e.message}` : String(e) });
    }
  }
  return [...results.values()];
}

/** Finishes or rolls back what a crash left in flight: release rollouts, then every app's own operation. */
async function recoverAll(deps: RunDeps): Promise<void> {
  // One app that cannot be recovered now (busy, engine error) must not keep the others down: say so and go on.
  const attempt = async (name: string, fn: () => Promise<string | undefined>) => {
    try {
      const said = await fn();
      if (said) deps.log(`app/${name}: ${said}`);
    } catch (e) {
      deps.log(
        `app/${name}: could not finish its interrupted operation: ${e instanceof MoltError ? `${e.code}: ${e.message}` : String(e)}`,
      );
    }
  };
  for (const app of new ReleaseStore(deps.store).listApps()) {
    await attempt(app.name, async () => {
      const r = await recoverReleaseApp(deps, app.name);
      return r && `the interrupted ${r.continued} ended ${r.outcome}`;
    });
  }
  for (const record of deps.store.listApps()) {
    if (!deps.store.inFlightOperation(record.name)) continue;
    await attempt(record.name, async () => {
      const op = await withLock(deps, record.name, 'molt up', () => resumeInFlight(deps, record.name));
      return op && `the interrupted ${op.kind} (operation ${op.id}) ended ${op.state.phase}`;
    });
  }
}

/** Apps shown on their own (release members are shown through their release app). */
export function isMember(record: AppRecord): boolean {
  return record.manifest?.metadata.labels[MEMBER_LABEL.owner] !== undefined;
}
