/**
 * Convergence: what it takes to bring an installed app's container to what the user wants
 * (running, unless stopped on purpose with `molt stop`). `apply` of an unchanged manifest,
 * `plan`, `molt start` and `molt up` all decide with this one function. Pure.
 */
import type { ContainerState, RunIntent } from './observed.ts';
import { stopReason } from './observed.ts';

/** What converging an app needs. */
export type Convergence =
  | { action: 'none'; reason: string }
  /** The container exists but does not run: start it. */
  | { action: 'start'; reason: string }
  /** The container is gone: create it again from the recorded manifest (same volumes and IP). */
  | { action: 'recreate'; reason: string };

/** Decides what brings `container` to the user's intent (undefined intent: running). */
export function converge(container: ContainerState | undefined, intent: RunIntent | undefined): Convergence {
  if (intent?.desired === 'stopped') {
    return {
      action: 'none',
      reason: `stopped on purpose with \`molt stop\` at ${intent.changedAt}; \`molt start\` runs it again`,
    };
  }
  if (!container) return { action: 'recreate', reason: 'its container is gone' };
  if (container.running) return { action: 'none', reason: 'its container is running' };
  return { action: 'start', reason: stopReason(container).message };
}

/** An app as `molt up` orders it. */
export interface OrderedApp {
  name: string;
  dependsOn: string[];
}

/** The result of ordering apps by `dependsOn`. */
export interface StartOrder {
  /** Every app whose dependencies are all known, dependencies first (ties by name). */
  order: string[];
  /** Apps that cannot start: a dependency is not an installed app (directly or through another). */
  blocked: { name: string; missing: string }[];
}

/** A `dependsOn` cycle: `cycle` lists the apps along it, its first repeated at the end. */
export class DependencyCycle extends Error {
  readonly cycle: string[];
  constructor(cycle: string[]) {
    super(`dependsOn forms a cycle: ${cycle.join(' → ')}`);
    this.cycle = cycle;
  }
}

/**
 * Orders apps so that every app comes after everything it depends on (Kahn's algorithm; among
 * apps that are free at the same time, by name, so the order is stable). Throws
 * DependencyCycle naming one cycle.
 */
export function startOrder(apps: OrderedApp[]): StartOrder {
  const known = new Map(apps.map((a) => [a.name, a]));
  const blocked = new Map<string, string>();
  // A dependency that is not installed blocks the app and, through it, its dependents.
  const missingOf = (name: string, seen: Set<string>): string | undefined => {
    if (blocked.has(name)) return blocked.get(name);
    const app = known.get(name);
    if (!app || seen.has(name)) return undefined;
    seen.add(name);
    for (const dep of app.dependsOn) {
      const missing = known.has(dep) ? missingOf(dep, seen) : dep;
      if (missing !== undefined) {
        blocked.set(name, missing);
        return missing;
      }
    }
    return undefined;
  };
  for (const a of apps) missingOf(a.name, new Set());
  findCycle(
    apps.filter((a) => !blocked.has(a.name)),
    known,
  );
  const pending = new Map(apps.filter((a) => !blocked.has(a.name)).map((a) => [a.name, new Set(a.dependsOn)]));
  const order: string[] = [];
  while (pending.size > 0) {
    const free = [...pending]
      .filter(([, deps]) => [...deps].every((d) => !pending.has(d)))
      .map(([n]) => n)
      .sort();
    for (const n of free) {
      order.push(n);
      pending.delete(n);
    }
  }
  return {
    order,
    blocked: [...blocked].map(([name, missing]) => ({ name, missing })).sort((a, b) => a.name.localeCompare(b.name)),
  };
}

function findCycle(apps: OrderedApp[], known: Map<string, OrderedApp>): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new DependencyCycle([...path.slice(path.indexOf(name)), name]);
    state.set(name, 'visiting');
    path.push(name);
    for (const dep of known.get(name)?.dependsOn ?? []) visit(dep);
    path.pop();
    state.set(name, 'done');
  };
  for (const a of [...apps].sort((x, y) => x.name.localeCompare(y.name))) visit(a.name);
}
