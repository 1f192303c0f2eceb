/**
 * What `molt get|history|rollback -f FILE` act on: the apps a file describes (a Compose
 * file's `<project>-<service>`, a molt manifest's Apps), in the order `apply -f` of that file
 * goes through them, and which of them a rollback of the whole file takes back. Pure.
 */
import type { OperationState } from './upgrade-machine.ts';

/** One app a file describes. */
export interface FileApp {
  /** The app's name (a Compose service's `<project>-<service>`). */
  name: string;
  /** An inline App, or an App that runs a Release. */
  kind: 'App' | 'ReleaseApp';
  /** The Compose service it came from. */
  service?: string;
  /** The apps it depends on (`depends_on`, `spec.dependsOn`). */
  dependsOn: readonly string[];
}

/** How a file's app is named to its user: `shop-db (service db)`. */
export function describeFileApp(app: FileApp): string {
  return app.service ? `${app.name} (service ${app.service})` : app.name;
}

/**
 * The apps in the order `apply -f` creates them: file order, each after the apps of the same
 * file it depends on (a Compose file's are already so ordered; a dependency outside the file
 * does not constrain). A cycle keeps file order for the apps on it: apply refuses those files.
 */
export function applyOrder(apps: readonly FileApp[]): FileApp[] {
  const byName = new Map(apps.map((a) => [a.name, a]));
  const ordered: FileApp[] = [];
  const seen = new Set<string>();
  const visit = (app: FileApp) => {
    if (seen.has(app.name)) return;
    seen.add(app.name);
    for (const dep of app.dependsOn) {
      const target = byName.get(dep);
      if (target) visit(target);
    }
    ordered.push(app);
  };
  apps.forEach(visit);
  return ordered;
}

/** The app a `SERVICE` argument names: a Compose service's name, or an app's own name. */
export function selectApp(apps: readonly FileApp[], wanted: string): FileApp | undefined {
  return apps.find((a) => a.service === wanted) ?? apps.find((a) => a.name === wanted);
}

/** The part of a recorded operation a rollback decision reads. */
export interface PastOperation {
  id: number;
  kind: string;
  fromVersion?: string;
  toVersion: string;
  plan: { previous?: unknown; trigger: string };
  state: { phase: OperationState['phase'] };
}

/** Whether the app's last operation can be rolled back, and if not, why. */
export type LastOperationRollback = { ok: true; from: string; to: string } | { ok: false; reason: string };

/**
 * A rollback of a whole file takes back, in each app, its last operation only (as `helm
 * rollback` takes back the last revision): a succeeded install has nothing before it, a
 * failed upgrade was already rolled back, an operation in flight is `molt recover`'s.
 */
export function lastOperationRollback(
  ops: readonly PastOperation[],
  installedVersion: string | undefined,
): LastOperationRollback {
  const last = ops[ops.length - 1];
  if (!last) return { ok: false, reason: 'it has no recorded operation' };
  const what = `its last operation (#${last.id} ${last.plan.trigger === 'apply' ? last.kind : 'rollback'} ${last.fromVersion ?? '∅'} → ${last.toVersion})`;
  if (last.state.phase === 'Progressing' || last.state.phase === 'RollingBack')
    return { ok: false, reason: `${what} is still in flight: \`molt recover\` finishes or rolls it back` };
  if (last.state.phase !== 'Succeeded')
    return { ok: false, reason: `${what} ended ${last.state.phase}: it runs what it ran before` };
  if (!last.plan.previous || !last.fromVersion) return { ok: false, reason: `${what} installed it: nothing before it` };
  if (last.toVersion !== installedVersion)
    return { ok: false, reason: `${what} is not what runs now (${installedVersion ?? 'nothing'})` };
  return { ok: true, from: last.toVersion, to: last.fromVersion };
}
