/**
 * The endpoints a task runs on, each an engine plus the molt store that records that host's
 * apps. molt's state is per host (the installed manifests, the journal, the locks), so every
 * endpoint has its own home: without an inventory the task runs on the local engine and
 * home; with one, each endpoint uses its `home` (default `<MOLT_HOME>/endpoints/<name>`),
 * the state dir its apps were installed with (`molt --engine … --home … apply`).
 * Engines are connected on first use and only kept once they answer, so a host that is
 * down fails its own targets (counted by maxFailureRatio) instead of the whole task.
 */
import { resolve, join } from 'node:path';
import { EngineUnavailableError } from '../core/errors.ts';
import { EndpointUnusableError, InventoryNotFoundError } from '../core/task-errors.ts';
import type { EndpointSpec, UpgradeTaskManifest } from '../core/task.ts';
import { engineAt } from '../engines/docker/endpoint.ts';
import { parseEngineAddress } from '../engines/docker/discover.ts';
import type { ContainerEngine } from '../engines/types.ts';
import { Store } from '../store/store.ts';
import type { TaskStore } from '../store/task-store.ts';

/** The name of the one endpoint of a task without an inventory. */
export const LOCAL_ENDPOINT = 'local';

/** One host of a task: its store and (on demand) its engine. */
export interface Endpoint {
  name: string;
  home: string;
  store: Store;
  /** The connected engine; throws EngineUnavailableError / EndpointUnusableError when it cannot be had. */
  engine(): Promise<ContainerEngine>;
}

/** All endpoints of one task run. */
export interface EndpointSet {
  endpoints: Endpoint[];
  /** True when the task runs on an inventory: targets are then named `endpoint/app`. */
  inventory: boolean;
  get(name: string): Endpoint;
  /** Closes the stores this set opened (not the main store). */
  close(): void;
}

/** What opening the endpoints needs from the caller. */
export interface EndpointOptions {
  task: UpgradeTaskManifest;
  tasks: TaskStore;
  mainStore: Store;
  mainHome: string;
  /** The local engine (discovery), used when the task has no inventory. */
  connectLocal: () => Promise<ContainerEngine>;
}

/** Opens the stores of every endpoint of the task; engines connect later, on first use. */
export function openEndpoints(o: EndpointOptions): EndpointSet {
  const inventoryName = o.task.spec.inventory;
  if (inventoryName === undefined) {
    return setOf(
      [{ name: LOCAL_ENDPOINT, home: o.mainHome, store: o.mainStore, engine: once(o.connectLocal) }],
      false,
      [],
    );
  }
  const inventory = o.tasks.getInventory(inventoryName);
  if (!inventory) throw new InventoryNotFoundError(inventoryName);
  const opened: Store[] = [];
  const homes = new Map<string, string>();
  const endpoints = inventory.manifest.spec.endpoints.map((spec): Endpoint => {
    const home = resolve(spec.home ?? join(o.mainHome, 'endpoints', spec.name));
    const other = homes.get(home);
    if (other !== undefined) {
      opened.forEach((s) => s.close());
      throw new EndpointUnusableError(
        spec.name,
        `shares its home ${home} with endpoint "${other}": each host's apps need their own molt home, or they would be targeted twice`,
      );
    }
    homes.set(home, spec.name);
    let store = o.mainStore;
    if (home !== resolve(o.mainHome)) {
      store = Store.open(home);
      opened.push(store);
    }
    return { name: spec.name, home, store, engine: once(() => connectEndpoint(spec)) };
  });
  return setOf(endpoints, true, opened);
}

function setOf(endpoints: Endpoint[], inventory: boolean, opened: Store[]): EndpointSet {
  const byName = new Map(endpoints.map((e) => [e.name, e]));
  return {
    endpoints,
    inventory,
    get: (name) => {
      const found = byName.get(name);
      if (!found) throw new EndpointUnusableError(name, 'is no longer in the inventory');
      return found;
    },
    close: () => opened.forEach((s) => s.close()),
  };
}

/** Connects to an inventory endpoint and checks that it answers. */
async function connectEndpoint(spec: EndpointSpec): Promise<ContainerEngine> {
  const address = parseEngineAddress(spec.engine);
  if ('problem' in address) throw new EndpointUnusableError(spec.name, address.problem);
  let engine;
  try {
    engine = engineAt(address, 'tcp' in address ? spec.tls : undefined);
  } catch (e) {
    throw new EndpointUnusableError(spec.name, (e as Error).message);
  }
  try {
    await engine.ping(5_000);
  } catch (e) {
    if (e instanceof EngineUnavailableError)
      throw new EngineUnavailableError(
        `endpoint "${spec.name}": ${e.message.replace(/^no container engine answers: /, '')}`,
        { cause: e },
      );
    throw e;
  }
  return engine;
}

/** Memoises a successful connection; a failed one is tried again on the next call. */
function once(connect: () => Promise<ContainerEngine>): () => Promise<ContainerEngine> {
  let connected: Promise<ContainerEngine> | undefined;
  return () => {
    connected ??= connect().catch((e: unknown) => {
      connected = undefined;
      throw e;
    });
    return connected;
  };
}
