/**
 * The App's Kubernetes-only settings on the pods molt makes, and Pod Security: every pod molt
 * creates passes the `restricted` profile whenever the app's own settings allow it. A member
 * that runs as non-root (runAsNonRoot, or a runAsUser other than 0) gets what `restricted`
 * also asks — seccomp RuntimeDefault, allowPrivilegeEscalation false, every capability
 * dropped — unless the app says otherwise; an app that runs as root keeps the runtime's
 * defaults but seccomp RuntimeDefault (what Podman and Docker apply locally too). ExecPods
 * only sleep and serve `tar`: they always run restricted, as the app's non-root user or nobody.
 */
import type { AppSpec } from '../../core/model.ts';
import type { PodSecurityContext, SecurityContext } from '../../core/pod-settings.ts';
import { numericUser } from '../../core/settings.ts';

/** The user ExecPods run as when the app names no non-root user (nobody). */
export const EXEC_POD_USER = 65534;

const RUNTIME_DEFAULT = { type: 'RuntimeDefault' } as const;

/** True when the app's settings make its container run as a non-root user. */
export function runsAsNonRoot(spec: AppSpec): boolean {
  const pod = spec.podSecurityContext ?? {};
  const c = spec.securityContext ?? {};
  const user = c.runAsUser ?? pod.runAsUser ?? numericUser(spec.user)?.uid;
  if (user !== undefined) return user !== 0;
  return (c.runAsNonRoot ?? pod.runAsNonRoot) === true;
}

/** The pod-spec fields of the app's settings: pull secrets, service account, placement, pod security context. */
export function podFieldsFor(spec: AppSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (spec.imagePullSecrets?.length) out.imagePullSecrets = spec.imagePullSecrets.map((s) => ({ name: s.name }));
  if (spec.serviceAccountName) out.serviceAccountName = spec.serviceAccountName;
  if (spec.nodeSelector && Object.keys(spec.nodeSelector).length) out.nodeSelector = spec.nodeSelector;
  if (spec.tolerations?.length) out.tolerations = spec.tolerations;
  out.securityContext = podSecurityFor(spec);
  return out;
}

function podSecurityFor(spec: AppSpec): PodSecurityContext {
  // spec.user ("999:999", both engines) gives the ids unless podSecurityContext names them.
  const u = numericUser(spec.user);
  const fromUser = u ? { runAsUser: u.uid, ...(u.gid !== undefined ? { runAsGroup: u.gid } : {}) } : {};
  const pod: PodSecurityContext = { ...fromUser, ...spec.podSecurityContext };
  pod.seccompProfile ??= RUNTIME_DEFAULT;
  if (runsAsNonRoot(spec)) pod.runAsNonRoot ??= true;
  return pod;
}

/** The member container's security context: the app's, completed to `restricted` for a non-root app. */
export function containerSecurityFor(spec: AppSpec): SecurityContext | undefined {
  const c: SecurityContext = { ...spec.securityContext };
  if (runsAsNonRoot(spec)) {
    c.allowPrivilegeEscalation ??= false;
    c.capabilities = { ...c.capabilities, drop: c.capabilities?.drop ?? ['ALL'] };
  }
  return Object.keys(c).length ? c : undefined;
}

/** The ExecPod's pod-spec fields: the app's pull secrets and placement, always `restricted`. */
export function execPodFieldsFor(spec: AppSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (spec.imagePullSecrets?.length) out.imagePullSecrets = spec.imagePullSecrets.map((s) => ({ name: s.name }));
  if (spec.nodeSelector && Object.keys(spec.nodeSelector).length) out.nodeSelector = spec.nodeSelector;
  if (spec.tolerations?.length) out.tolerations = spec.tolerations;
  const u = numericUser(spec.user);
  const user = runsAsNonRoot(spec)
    ? (spec.securityContext?.runAsUser ?? spec.podSecurityContext?.runAsUser ?? u?.uid)
    : EXEC_POD_USER;
  const group = spec.securityContext?.runAsGroup ?? spec.podSecurityContext?.runAsGroup ?? u?.gid;
  out.securityContext = {
    runAsNonRoot: true,
    ...(user !== undefined ? { runAsUser: user } : {}),
    ...(group !== undefined ? { runAsGroup: group } : {}),
    seccompProfile: RUNTIME_DEFAULT,
  };
  return out;
}

/** The ExecPod container's security context (restricted). */
export const EXEC_CONTAINER_SECURITY: SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  readOnlyRootFilesystem: true,
};
