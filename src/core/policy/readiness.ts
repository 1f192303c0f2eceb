/**
 * How long a new version may take to become ready, and when a member has failed — the same
 * rules on both engines. Podman/Docker waits through runner/probe.ts with the probe's own
 * count; Kubernetes watches the pod the kubelet probes and needs a wall-clock budget.
 */
import type { AppSpec, ProbeSpec } from '../model.ts';
import type { FailureCode } from './failures.ts';

/** Slack on top of the probe budget for scheduling and image pulls (Kubernetes). */
export const START_SLACK_MS = 120_000;

/** The startup-probe failure budget while upgrading: `spec.upgrade.startupFailureThreshold`, else 10 × the normal. */
export function upgradeFailureThreshold(
  spec: Pick<AppSpec, 'upgrade'>,
  probe: ProbeSpec | undefined,
): number | undefined {
  if (!probe) return undefined;
  return spec.upgrade.startupFailureThreshold ?? probe.failureThreshold * 10;
}

/**
 * Milliseconds a started member may take to become ready: the startup probe's budget
 * (failureThreshold × periodSeconds, whole seconds as Kubernetes runs it; the raised threshold
 * while upgrading), or minReadySeconds without a probe, plus START_SLACK_MS.
 */
export function readyBudgetMs(
  spec: Pick<AppSpec, 'probes' | 'minReadySeconds' | 'upgrade'>,
  upgrading: boolean,
): number {
  const p = spec.probes.startup;
  if (!p) return spec.minReadySeconds * 1000 + START_SLACK_MS;
  const threshold = upgrading ? (upgradeFailureThreshold(spec, p) ?? p.failureThreshold) : p.failureThreshold;
  return threshold * Math.max(1, Math.ceil(p.periodSeconds)) * 1000 + START_SLACK_MS;
}

/** Waiting reasons of a container that mean it will not start by waiting longer. */
const FATAL_WAITING: Readonly<Record<string, FailureCode>> = {
  ErrImagePull: 'ImagePullFailed',
  ImagePullBackOff: 'ImagePullFailed',
  ErrImageNeverPull: 'ImagePullFailed',
  InvalidImageName: 'ImagePullFailed',
  CrashLoopBackOff: 'ContainerCrashLooping',
  CreateContainerConfigError: 'ContainerConfigInvalid',
  CreateContainerError: 'ContainerConfigInvalid',
  RunContainerError: 'ContainerConfigInvalid',
};

/** The failure a container's waiting reason means, or undefined when waiting longer may help. */
export function fatalWaiting(waitingReason: string | undefined): FailureCode | undefined {
  return waitingReason === undefined ? undefined : FATAL_WAITING[waitingReason];
}

/** What the failure rule needs of a pod. */
export interface PodState {
  name: string;
  phase: string;
  ready: boolean;
  restarts: number;
  waitingReason?: string;
  waitingMessage?: string;
  lastTerminated?: string;
}

/** A classified failure. */
export interface PodFailure {
  code: FailureCode;
  message: string;
}

/**
 * Why a member's pod has failed, or undefined while it may still become ready: a fatal waiting
 * reason, a Failed pod, a restart it has not recovered from (not Ready), or no readiness
 * within `budgetMs` of `startedAt` (when known).
 */
export function podFailure(
  pod: PodState,
  startedAt: number | undefined,
  budgetMs: number,
  now: number,
): PodFailure | undefined {
  const code = fatalWaiting(pod.waitingReason);
  if (code)
    return {
      code,
      message: `pod ${pod.name}: ${pod.waitingReason}${pod.waitingMessage ? `: ${pod.waitingMessage}` : ''}`,
    };
  if (pod.phase === 'Failed')
    return {
      code: 'PodFailed',
      message: `pod ${pod.name} failed${pod.lastTerminated ? `: ${pod.lastTerminated}` : ''}`,
    };
  if (pod.restarts > 0 && !pod.ready)
    return {
      code: 'ContainerRestarted',
      message: `pod ${pod.name}'s container restarted ${pod.restarts}×${pod.lastTerminated ? `; last: ${pod.lastTerminated}` : ''}`,
    };
  if (!pod.ready && startedAt !== undefined && now - startedAt > budgetMs)
    return { code: 'ReadyTimeout', message: `pod ${pod.name} was not ready within ${Math.round(budgetMs / 1000)}s` };
  return undefined;
}
