/**
 * Honest status: the records of apps with what the engine shows of them now (one list call),
 * for `get` and `plan`. Loads no runner code, so reading commands start fast.
 */
import { EngineUnavailableError } from '../core/errors.ts';
import { appContainer, observedStatus, type ContainerState } from '../core/observed.ts';
import { converge, type Convergence } from '../core/converge.ts';
import type { ContainerEngine } from '../engines/types.ts';
import { observeApp, observeApps, unlabelledContainer } from '../runner/observe.ts';
import { RunIntents } from '../store/intents.ts';
import type { Store } from '../store/store.ts';
import type { AppRecord } from '../store/types.ts';
import type { ReleaseAppRecord } from '../store/release-store.ts';
import { setCondition } from '../core/status.ts';
import { connectEngine, say, type GlobalOptions } from './context.ts';

/**
 * The records with their status as the engine shows it now: one list call for all apps;
 * `one` inspects the app's container (restartCount, OOMKilled), `list` only the containers
 * that do not run (their reason), `table` nothing more.
 */
export async function observedRecords(
  opts: GlobalOptions,
  store: Store,
  records: AppRecord[],
  mode: 'one' | 'list' | 'table',
): Promise<AppRecord[]> {
  if (records.length === 0) return records;
  const now = new Date().toISOString();
  const intents = new RunIntents(store).all();
  let engine: ContainerEngine;
  let byApp: Map<string, ContainerState[]>;
  try {
    engine = await connectEngine(opts);
    byApp = await observeApps({ engine });
  } catch (e) {
    if (!(e instanceof EngineUnavailableError)) throw e;
    say(`warning: ${e.message}; showing molt's record, not the engine's view`);
    return records.map((r) => ({
      ...r,
      status: observedStatus(r.status, r.manifest !== undefined, { observed: false, now }),
    }));
  }
  return Promise.all(
    records.map(async (r) => {
      let container =
        appContainer(r.name, r.status.containerId, byApp.get(r.name) ?? []) ??
        (r.manifest ? await unlabelledContainer({ engine }, r) : undefined);
      if (container && (mode === 'one' || (mode === 'list' && !container.running)))
        container = (await engine.inspectState(container.id)) ?? container;
      return {
        ...r,
        status: observedStatus(r.status, r.manifest !== undefined, {
          observed: true,
          container,
          intent: intents.get(r.name),
          now,
        }),
      };
    }),
  );
}

/**
 * For `plan` of an unchanged app: what apply would do to bring its container back (start or
 * recreate), or undefined when nothing (or when the engine cannot be asked: said on stderr).
 */
export async function planConvergence(
  opts: GlobalOptions,
  store: Store,
  name: string,
): Promise<Exclude<Convergence, { action: 'none' }> | undefined> {
  const record = store.getApp(name);
  if (!record?.manifest || store.inFlightOperation(name)) return undefined;
  try {
    const engine = await connectEngine(opts);
    const c = converge(await observeApp({ engine }, record), new RunIntents(store).get(name));
    return c.action === 'none' ? undefined : c;
  } catch (e) {
    if (!(e instanceof EngineUnavailableError)) throw e;
    say(`note: ${e.message}; plan could not check whether ${name}'s container runs`);
    return undefined;
  }
}

/**
 * Release apps with what the engine shows of their members (one list call for all): a steady
 * app with a member whose container does not run is Degraded, Ready=False naming the members;
 * every member gets its observed `phase`. Rollouts in flight keep the journal's phase.
 */
export async function observedReleaseApps(
  opts: GlobalOptions,
  store: Store,
  apps: ReleaseAppRecord[],
): Promise<ReleaseAppRecord[]> {
  const memberNames = apps.flatMap((a) => a.status.roles.flatMap((r) => r.members.map((m) => m.name)));
  const records = memberNames.map((n) => store.getApp(n)).filter((r): r is AppRecord => r !== undefined);
  const observed = new Map((await observedRecords(opts, store, records, 'list')).map((r) => [r.name, r.status]));
  const now = new Date().toISOString();
  return apps.map((a) => {
    const roles = a.status.roles.map((r) => ({
      ...r,
      members: r.members.map((m) => ({
        ...m,
        ...(observed.get(m.name) ? { phase: observed.get(m.name)!.phase } : {}),
      })),
    }));
    const down = roles
      .flatMap((r) => r.members)
      .filter((m) => 'phase' in m && m.phase !== 'Running')
      .map((m) => {
        const ready = observed.get(m.name)?.conditions.find((c) => c.type === 'Ready');
        return `${m.name} (${ready?.message ?? (m as { phase?: string }).phase})`;
      });
    if (a.status.phase !== 'Running' || down.length === 0) return { ...a, status: { ...a.status, roles } };
    const conditions = setCondition(
      a.status.conditions,
      {
        type: 'Ready',
        status: 'False',
        reason: 'MembersNotRunning',
        message: `members not running: ${down.join('; ')}`,
      },
      now,
    );
    return { ...a, status: { ...a.status, phase: 'Degraded', roles, conditions } };
  });
}
