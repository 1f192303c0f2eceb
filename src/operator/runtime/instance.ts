/**
 * Operator instances (like Argo Workflows' instanceID): an operator started with
 * `--instance X` reconciles only the Apps and UpgradeTasks labelled
 * `molt.dev/operator-instance=X` and campaigns for its own Lease `molt-operator-X`; an operator
 * without one reconciles only objects WITHOUT that label. So several operators (a test's own
 * local process, a second team's) share one cluster without ever acting on the same object.
 * The selection is server-side (the informers' label selector), and every reconcile checks
 * the object's label again, since other watches (pods, StatefulSets) map back to any App.
 */

/** The label that hands an App or UpgradeTask to one operator instance. */
export const INSTANCE_LABEL = 'molt.dev/operator-instance';

/** The Lease of the default instance. */
export const DEFAULT_LEASE = 'molt-operator';

/** A bad `--instance` value. */
export class InstanceNameError extends Error {
  readonly code = 'InvalidInstance';
  constructor(value: string) {
    super(
      `--instance "${value}" is not a valid label value: use 1–40 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
    );
    this.name = 'InstanceNameError';
  }
}

/** Checks an instance name once, at the edge; returns it. */
export function validInstance(value: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]{0,38}[A-Za-z0-9])?$/.test(value)) throw new InstanceNameError(value);
  return value;
}

/** The server-side label selector of the objects an instance owns. */
export function instanceSelector(instance: string | undefined): string {
  return instance ? `${INSTANCE_LABEL}=${instance}` : `!${INSTANCE_LABEL}`;
}

/** True when `obj` belongs to `instance` (undefined: the default instance). */
export function ownedBy(
  obj: { metadata: { labels?: Record<string, string> | undefined } },
  instance: string | undefined,
): boolean {
  return obj.metadata.labels?.[INSTANCE_LABEL] === instance;
}

/** The Lease an instance campaigns for. */
export function leaseFor(instance: string | undefined): string {
  return instance ? `${DEFAULT_LEASE}-${instance}` : DEFAULT_LEASE;
}
