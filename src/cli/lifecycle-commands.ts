/**
 * The lifecycle commands: `molt describe app`, `molt stop`, `molt start`, `molt up`,
 * `molt systemd install`, and the observation behind honest `get` output.
 */
import { AppNotFoundError, EngineUnavailableError } from '../core/errors.ts';
import { appContainer, observedStatus, type ContainerState } from '../core/observed.ts';
import { converge, type Convergence } from '../core/converge.ts';
import type { ContainerEngine } from '../engines/types.ts';
import {
  observeApp,
  observeApps,
  unlabelledContainer,
  startApp,
  stopApp,
  upApps,
  type UpResult,
} from '../runner/lifecycle.ts';
import { RunIntents } from '../store/intents.ts';
import type { Store } from '../store/store.ts';
import type { AppRecord } from '../store/types.ts';
import type { ReleaseAppRecord } from '../store/release-store.ts';
import { setCondition } from '../core/status.ts';
import { connectEngine, moltHome, openStore, runDeps, say, type GlobalOptions } from './context.ts';
import { renderDescribe } from './describe.ts';
import { parseDuration } from './output.ts';
import { installUnit } from './systemd.ts';

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

/** `molt describe app NAME`. */
export async function describeCommand(
  resource: string,
  name: string,
  tail: number,
  opts: GlobalOptions,
): Promise<number> {
  if (!['app', 'apps'].includes(resource)) throw new AppNotFoundError(`${resource}/${name}`);
  const store = openStore(opts);
  try {
    const record = store.getApp(name);
    if (!record) throw new AppNotFoundError(name);
    const [observed] = await observedRecords(opts, store, [record], 'one');
    const containerId = observed!.status.container?.id;
    let logs: string | undefined;
    if (containerId) {
      logs = await connectEngine(opts)
        .then((e) => e.logs(containerId, Number.isInteger(tail) && tail > 0 ? tail : 20))
        .catch((e: unknown) => `(logs unavailable: ${e instanceof Error ? e.message : String(e)})`);
    }
    const ops = store.listOperations(name);
    process.stdout.write(
      renderDescribe({
        record: observed!,
        intent: new RunIntents(store).get(name),
        lastOperation: ops.at(-1),
        logs,
        tail,
      }),
    );
    return 0;
  } finally {
    store.close();
  }
}

/** `molt stop NAME`. */
export async function stopCommand(name: string, opts: GlobalOptions): Promise<number> {
  const deps = await runDeps(opts, undefined);
  try {
    process.stdout.write(`app/${name} stopped (${await stopApp(deps, name)})\n`);
    return 0;
  } finally {
    deps.dispose();
  }
}

/** `molt start NAME`. */
export async function startCommand(name: string, opts: GlobalOptions & { timeout: string }): Promise<number> {
  const deps = await runDeps(opts, parseDuration(opts.timeout));
  try {
    const r = await startApp(deps, name);
    process.stdout.write(
      `app/${name} ${r.action === 'none' ? 'running' : r.action === 'start' ? 'started' : 'recreated'} (${r.detail})\n`,
    );
    return 0;
  } finally {
    deps.dispose();
  }
}

/** `molt up`: exit 0 when every app that should run runs, 1 otherwise. */
export async function upCommand(opts: GlobalOptions & { timeout: string }): Promise<number> {
  const deps = await runDeps(opts, parseDuration(opts.timeout));
  try {
    say(`molt up: engine ${deps.engine.description}, home ${moltHome(opts)}`);
    const results = await upApps(deps, (r: UpResult) =>
      process.stdout.write(`app/${r.app} ${r.outcome}: ${r.detail}\n`),
    );
    if (results.length === 0) say('No apps installed.');
    return results.some(
      (r) => r.outcome === 'failed' || (r.outcome === 'skipped' && !/stopped on purpose/.test(r.detail)),
    )
      ? 1
      : 0;
  } finally {
    deps.dispose();
  }
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
