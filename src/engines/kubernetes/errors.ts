/**
 * Kubernetes-specific failures, in the style of core/errors.ts: a stable `code`, a message, a
 * fix hint, and whether trying again can help. The driver maps every API answer outside 2xx
 * to KubeApiError once (in client.ts); exec failures of the transport are KubeExecError.
 */
import { MoltError } from '../../core/errors.ts';
import type { FailureCode } from '../../core/policy/index.ts';

/** The Kubernetes API answered with an error status (a `Status` object). */
export class KubeApiError extends MoltError {
  /** `KubeNotFound`, `KubeConflict`, `KubeForbidden`, `KubeInvalid`, … or `KubeApiError`. */
  readonly code: FailureCode;
  /** The HTTP status. */
  readonly status: number;
  /** The Status object's `reason` (NotFound, AlreadyExists, Conflict, Invalid, Forbidden, …). */
  readonly reason: string;

  constructor(operation: string, status: number, reason: string, detail: string) {
    super(`${operation} failed: ${detail} (HTTP ${status}${reason ? ` ${reason}` : ''})`, hintFor(status, reason), {
      retryable: status === 409 || status === 429 || status >= 500,
    });
    this.status = status;
    this.reason = reason;
    this.code = CODES[reason] ?? 'KubeApiError';
  }
}

const CODES: Record<string, FailureCode> = {
  NotFound: 'KubeNotFound',
  AlreadyExists: 'KubeAlreadyExists',
  Conflict: 'KubeConflict',
  Invalid: 'KubeInvalid',
  Forbidden: 'KubeForbidden',
  Unauthorized: 'KubeUnauthorized',
  Gone: 'KubeGone',
  TooManyRequests: 'KubeThrottled',
};

function hintFor(status: number, reason: string): string {
  if (status === 403 || reason === 'Forbidden')
    return "molt's service account lacks a permission: compare its ClusterRole (deploy/rbac) with the verb and resource above.";
  if (status === 401) return 'The credentials were refused: check --kubeconfig/--context or the service account token.';
  if (status === 422 || reason === 'Invalid')
    return 'Kubernetes rejected the object molt built; the message names the field.';
  if (status === 409)
    return 'Someone changed the object at the same time; the next pass retries with the fresh version.';
  return 'See the API server message above; `kubectl get events` may tell more.';
}

/** The API server cannot be reached (connection refused, TLS failure, timeout). */
export class KubeUnavailableError extends MoltError {
  readonly code = 'KubeUnavailable';
  constructor(server: string, detail: string, options?: { cause?: unknown }) {
    super(
      `the Kubernetes API server ${server} does not answer: ${detail}`,
      'Check that the cluster is up and --kubeconfig/--context point at it.',
      options,
    );
  }
}

/**
 * A command run through the exec subresource could not be started (retryable: false, e.g. the
 * executable is missing) or its connection broke (retryable: true).
 */
export class KubeExecError extends MoltError {
  readonly code = 'KubeExecFailed';
  constructor(pod: string, detail: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(
      `exec in pod ${pod} failed: ${detail}`,
      'Check that the pod is running, the command exists in its image, and molt may create pods/exec.',
      options,
    );
  }
}

/** The kubeconfig (or the in-cluster service account) cannot be loaded. */
export class KubeConfigError extends MoltError {
  readonly code = 'KubeConfigInvalid';
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      `no usable Kubernetes configuration: ${detail}`,
      'Pass --kubeconfig FILE (and --context NAME), set KUBECONFIG, or run inside a pod with a service account.',
      options,
    );
  }
}

/** True when `e` is a KubeApiError with HTTP status `status`. */
export function isStatus(e: unknown, status: number): e is KubeApiError {
  return e instanceof KubeApiError && e.status === status;
}
