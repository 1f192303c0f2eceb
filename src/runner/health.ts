/**
 * Healthchecks (spec.healthcheck) as molt runs them itself: Podman without systemd never runs
 * a container's healthcheck, so "healthy" means molt's own probe of it passed. Used by
 * `molt up`/`start` (healthy before dependents) and by the upgrade's monitor window.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { NotReadyError } from '../core/errors.ts';
import type { HealthcheckSpec } from '../core/settings.ts';
import type { ContainerEngine } from '../engines/types.ts';
import { probeOnce } from './probe.ts';

/**
 * Waits until the healthcheck passes once. Failures within startPeriodSeconds do not count;
 * after it, failureThreshold failures in a row are an error.
 */
export async function awaitHealthy(
  engine: ContainerEngine,
  containerId: string,
  ip: string,
  check: HealthcheckSpec,
  signal: AbortSignal,
): Promise<string> {
  const started = Date.now();
  let failures = 0;
  for (;;) {
    const state = await engine.inspectState(containerId);
    if (!state?.running)
      throw new NotReadyError(
        'ContainerExited',
        `container ${containerId.slice(0, 12)} stopped while waiting for its healthcheck (exit code ${state?.exitCode ?? 'unknown'})`,
        'See `molt describe app` for its last output.',
      );
    const attempt = await probeOnce(engine, containerId, ip, check, signal);
    if (attempt.ok) return `healthcheck passed after ${((Date.now() - started) / 1000).toFixed(1)}s`;
    if (Date.now() - started >= check.startPeriodSeconds * 1000 && ++failures >= check.failureThreshold) {
      throw new NotReadyError(
        'ProbeFailed',
        `healthcheck failed ${failures} times in a row; last: ${attempt.detail}`,
        'Check the app (`molt describe app`) and spec.healthcheck.',
      );
    }
    await sleep(check.periodSeconds * 1000, undefined, { signal });
  }
}
