/**
 * Settings that exist only on the local engine: refused, at their line, when a manifest goes
 * to a cluster (the CLI's parser in cluster mode; the operator for objects written by other
 * means). Pure.
 */
import type { AppSpec } from './model.ts';
import { isBindMount, numericUser } from './settings.ts';

/** One refused field: its path below `spec` and why. */
export interface LocalOnlyField {
  path: (string | number)[];
  message: string;
}

const WHY = {
  restart:
    'restart exists only on the local engine: on a cluster the kubelet restarts containers (restartPolicy Always); remove it',
  hostPath:
    'hostPath bind mounts exist only on the local engine (Pod Security restricted forbids hostPath volumes); use a named volume',
  envFrom: 'envFrom files are read on the local host; on a cluster use env (or a ConfigMap) instead',
  secrets: 'secret files are read on the local host; on a cluster use a Kubernetes Secret',
  stopSignal: 'stopSignal is not supported on a cluster (pods get SIGTERM); remove it',
  pids: "resources.pids is a node setting on a cluster (the kubelet's podPidsLimit); remove it",
  user: 'on a cluster a user must be numeric (uid or uid:gid) to become runAsUser/runAsGroup',
  dependsOn:
    'dependsOn orders `molt up` on the local host; on a cluster pods start on their own (use a readiness gate or init container)',
  monitorSeconds: 'upgrade.monitorSeconds is not implemented by the operator yet; remove it',
} as const;

/** The fields of `spec` (an App's or a role's) a cluster cannot run. */
export function localOnlyFields(spec: Partial<AppSpec>): LocalOnlyField[] {
  const out: LocalOnlyField[] = [];
  if (spec.restart !== undefined) out.push({ path: ['restart'], message: WHY.restart });
  (spec.volumes ?? []).forEach((v, i) => {
    if (isBindMount(v)) out.push({ path: ['volumes', i, 'hostPath'], message: WHY.hostPath });
  });
  if (spec.envFrom?.length) out.push({ path: ['envFrom'], message: WHY.envFrom });
  if (spec.secrets?.length) out.push({ path: ['secrets'], message: WHY.secrets });
  if (spec.stopSignal !== undefined) out.push({ path: ['stopSignal'], message: WHY.stopSignal });
  if (spec.resources?.pids !== undefined) out.push({ path: ['resources', 'pids'], message: WHY.pids });
  if (spec.user !== undefined && !numericUser(spec.user)) out.push({ path: ['user'], message: WHY.user });
  if (spec.dependsOn?.length) out.push({ path: ['dependsOn'], message: WHY.dependsOn });
  if (spec.upgrade?.monitorSeconds !== undefined)
    out.push({ path: ['upgrade', 'monitorSeconds'], message: WHY.monitorSeconds });
  return out;
}
