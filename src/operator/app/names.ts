/**
 * The names, labels and annotations by which the operator finds and reads back what it made.
 * Progress lives on the cluster, not in the operator's memory: the StatefulSet's pod template
 * carries the spec hash and version it runs (and so does every pod made from it), and three
 * annotations on the StatefulSet hold the installed spec, the upgrade in flight and the
 * outcome of the last one — so a restarted (or newly elected) operator continues exactly there.
 */
import { createHash } from 'node:crypto';

/** The finalizer that lets the operator remove its ExecPods before an App goes. */
export const FINALIZER = 'molt.dev/cleanup';
/** The field manager of every write. */
export const FIELD_MANAGER = 'molt-operator';
/** The controller name in Events and metrics. */
export const CONTROLLER = 'molt.dev/app-controller';

/** Labels on everything molt makes for an app. */
export const LABELS = {
  app: 'molt.dev/app',
  component: 'molt.dev/component',
  version: 'molt.dev/version',
  specHash: 'molt.dev/spec-hash',
  role: 'molt.dev/role',
  managedBy: 'app.kubernetes.io/managed-by',
  name: 'app.kubernetes.io/name',
} as const;

/** Annotations molt reads back. */
export const ANNOTATIONS = {
  /** On the StatefulSet: the installed spec (JSON InstalledRecord). */
  installed: 'molt.dev/installed',
  /** On the StatefulSet: the upgrade in flight (JSON UpgradeJournal). */
  upgrade: 'molt.dev/upgrade',
  /** On the StatefulSet: the outcome of the last upgrade (JSON LastUpgradeRecord). */
  last: 'molt.dev/last-upgrade',
  /** On the pod template during an upgrade: "<old> <new>", the startup gate's content. */
  gate: 'molt.dev/upgrade-gate',
  /** On the pod template: "true" while it carries the raised startup budget of an upgrade. */
  upgradeMode: 'molt.dev/upgrade-mode',
  /**
   * On the App: set by `molt rollback` — the version the spec was set back to. It permits exactly
   * that downgrade (no forceUpgrade), or rolls back the upgrade in flight from it; the operator
   * removes it when the operation ends.
   */
  rollbackTo: 'molt.dev/rollback-to',
} as const;

/** Values of the component label. */
export const COMPONENT = { member: 'member', execPod: 'exec-pod' } as const;

/** The container name of an inline app's member. */
export const MAIN_CONTAINER = 'main';

/** The StatefulSet (and headless Service) of an inline app. */
export function statefulSetName(app: string): string {
  return app;
}

/** The pod of member `ordinal` of a StatefulSet. */
export function memberName(statefulSet: string, ordinal: number): string {
  return `${statefulSet}-${ordinal}`;
}

/** The ExecPod that provides the scripts of the version with spec hash `hash`. */
export function execPodName(app: string, hash: string): string {
  return `${app.slice(0, 40)}-molt-exec-${hash.slice(0, 10)}`;
}

/** A short stable hash of a JSON value (key order ignored). */
export function hashOf(value: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(value)))
    .digest('hex')
    .slice(0, 16);
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => [k, canonical(x)]),
    );
  }
  return v;
}
