/**
 * What the engine shows of apps now (one list call), apart from the code that acts on them:
 * honest `get` output loads this, not the runner.
 */
import { LABEL } from '../core/model.ts';
import { appContainer, type ContainerState } from '../core/observed.ts';
import type { AppRecord } from '../store/types.ts';
import type { RunDeps } from './run-operation.ts';

/** The run state of every container of every app, in one engine call, by app name. */
export async function observeApps(deps: Pick<RunDeps, 'engine'>): Promise<Map<string, ContainerState[]>> {
  const byApp = new Map<string, ContainerState[]>();
  for (const c of await deps.engine.listContainerStates([LABEL.app])) {
    if (!c.app) continue;
    byApp.set(c.app, [...(byApp.get(c.app) ?? []), c]);
  }
  return byApp;
}

/** The app's own container as the engine shows it now (one list call filtered to the app). */
export async function observeApp(
  deps: Pick<RunDeps, 'engine'>,
  record: AppRecord,
): Promise<ContainerState | undefined> {
  const states = await deps.engine.listContainerStates([`${LABEL.app}=${record.name}`]);
  return appContainer(record.name, record.status.containerId, states) ?? (await unlabelledContainer(deps, record));
}

/**
 * The container of an app whose container carries no molt label — one adopted with `molt
 * adopt` (created by `podman run` or a Compose tool): by its recorded id, else by the app's name.
 */
export async function unlabelledContainer(
  deps: Pick<RunDeps, 'engine'>,
  record: AppRecord,
): Promise<ContainerState | undefined> {
  const byId = record.status.containerId ? await deps.engine.inspectState(record.status.containerId) : undefined;
  return byId ?? (await deps.engine.inspectState(record.name));
}
