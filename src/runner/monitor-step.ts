/**
 * MonitorNew: the upgrade's monitor window (spec.upgrade.monitorSeconds, like Swarm's update
 * `monitor`). After the new version passed its startup probe, molt watches it for that long:
 * an exit (also one the engine's restart policy already undid: its restart count or start
 * time moved), the engine reporting it unhealthy, or molt's own probe of spec.healthcheck
 * failing failureThreshold times in a row fails the step, and the normal rollback runs
 * (snapshots restored). Re-running the step after a crash watches a full window again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { NotReadyError } from '../core/errors.ts';
import { stopReason } from '../core/observed.ts';
import { probeOnce } from './probe.ts';
import { findNew, manifestOf, requireIp, type StepContext } from './step-context.ts';

/** The step. */
export async function monitorNew(ctx: StepContext): Promise<string> {
  const { spec } = manifestOf(ctx);
  const window = spec.upgrade.monitorSeconds ?? 0;
  if (window <= 0) return 'no monitor window (spec.upgrade.monitorSeconds not set)';
  const id = ctx.facts.newContainerId ?? (await findNew(ctx));
  if (!id)
    throw new NotReadyError(
      'ContainerExited',
      'the new container was not found for the monitor window',
      'Something removed it outside molt; the rollback restores the old version.',
    );
  const base = await ctx.engine.inspectState(id);
  const check = spec.healthcheck;
  const started = Date.now();
  const deadline = started + window * 1000;
  const failedAfter = () => `${((Date.now() - started) / 1000).toFixed(1)}s into the ${window}s monitor window`;
  let failures = 0;
  ctx.log(
    `watching ${id.slice(0, 12)} for ${window}s${check ? ' (healthcheck every ' + check.periodSeconds + 's)' : ''}`,
  );
  for (;;) {
    const now = await ctx.engine.inspectState(id);
    if (!now)
      throw new NotReadyError(
        'ContainerExited',
        `the new container disappeared ${failedAfter()}`,
        'Something removed it outside molt.',
      );
    if (
      !now.running ||
      (now.restartCount ?? 0) > (base?.restartCount ?? 0) ||
      (base?.startedAt && now.startedAt !== base.startedAt)
    ) {
      const why = now.running
        ? `restarted by the engine (${now.restartCount ?? '?'} restarts)`
        : stopReason(now).message;
      const logs = (await ctx.engine.logs(id, 20).catch(() => '')).trim();
      throw new NotReadyError(
        now.oomKilled ? 'ContainerOOMKilled' : 'ContainerExited',
        `the new version failed ${failedAfter()}: ${why}${logs ? `; last output:\n${logs}` : ''}`,
        'The new version stopped after it was ready; see its output above. The old version is back.',
      );
    }
    if (now.health === 'unhealthy')
      throw new NotReadyError(
        'ProbeFailed',
        `the engine reports the new version unhealthy ${failedAfter()}`,
        'Check its healthcheck and its logs (`molt history`).',
      );
    if (check) {
      const attempt = await probeOnce(ctx.engine, id, requireIp(ctx), check, ctx.signal);
      const inStartPeriod =
        now.startedAt !== undefined && Date.now() - Date.parse(now.startedAt) < check.startPeriodSeconds * 1000;
      failures = attempt.ok || inStartPeriod ? 0 : failures + 1;
      if (!attempt.ok) ctx.log(`healthcheck failed (${failures}/${check.failureThreshold}): ${attempt.detail}`);
      if (failures >= check.failureThreshold) {
        throw new NotReadyError(
          'ProbeFailed',
          `the new version's healthcheck failed ${failures} times in a row ${failedAfter()}; last: ${attempt.detail}`,
          'The new version became unhealthy after it was ready; the old version is back. Check spec.healthcheck and the new version.',
        );
      }
    }
    const left = deadline - Date.now();
    if (left <= 0) return `kept running for ${window}s after ready${check ? ', healthcheck passing' : ''}`;
    await sleep(Math.min(left, (check?.periodSeconds ?? 1) * 1000), undefined, { signal: ctx.signal });
  }
}
