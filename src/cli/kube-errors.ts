/**
 * Failures of the CLI's cluster mode, in the style of core/errors.ts: a stable code, a message
 * that says what and where, and a hint that says how to fix it. Failures of the API itself are
 * the driver's (engines/kubernetes/errors.ts: KubeApiError, KubeUnavailableError, KubeConfigError).
 */
import { MoltError } from '../core/errors.ts';
import type { FailureCode } from '../core/policy/index.ts';

/** The cluster does not serve the molt.dev API group: the CRDs (and so the operator) are missing. */
export class CrdsNotInstalledError extends MoltError {
  readonly code = 'CrdsNotInstalled';
  constructor(server: string, detail: string) {
    super(
      `molt's CRDs are not installed on this cluster (${server}): ${detail}`,
      'Install them and the operator: kubectl apply -k deploy/ (or the Helm chart deploy/helm/molt).',
    );
  }
}

/** The App is not in the namespace. */
export class KubeAppNotFoundError extends MoltError {
  readonly code = 'AppNotFound';
  constructor(name: string, namespace: string) {
    super(
      `app "${name}" not found in namespace "${namespace}"`,
      "List the apps with `molt --kubeconfig FILE -n NAMESPACE get apps`; -n picks the namespace (default: the context's).",
    );
  }
}

/** Server-side apply found fields of the document owned by another field manager. */
export class ApplyConflictError extends MoltError {
  readonly code = 'ApplyConflict';
  constructor(what: string, detail: string) {
    super(
      `${what}: ${detail}`,
      'Another tool (kubectl, a GitOps controller) owns these fields. Change them with that tool, or take them over: kubectl apply --server-side --field-manager=molt-cli --force-conflicts -f FILE.',
    );
  }
}

/** The operator ended the operation without reaching the spec: refused, rolled back or failed. */
export class OperationFailedError extends MoltError {
  readonly code: FailureCode;
  constructor(code: FailureCode, message: string, hint: string) {
    super(message, hint);
    this.code = code;
  }
}

/** The operation did not end within --timeout; it goes on in the cluster. */
export class WaitTimeoutError extends MoltError {
  readonly code = 'WaitTimeout';
  constructor(what: string, seconds: number, state: string, watch: string) {
    super(
      `${what} is not done after ${seconds}s (--timeout); it continues in the cluster. Now: ${state}`,
      `Watch it with \`${watch}\` (or kubectl get apps.molt.dev -w); a failure is rolled back by the operator.`,
    );
  }
}

/** `molt rollback` cannot start: nothing to go back to, or a rollback already runs. */
export class RollbackRefusedError extends MoltError {
  readonly code: 'NothingToRollBack' | 'RollbackInProgress';
  constructor(code: 'NothingToRollBack' | 'RollbackInProgress', message: string, hint: string) {
    super(message, hint);
    this.code = code;
  }
}
