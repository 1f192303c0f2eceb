/**
 * Startup probes (exec, tcp, http) and the readiness wait built on them. Acts through the
 * engine and the network; decides nothing beyond "did this attempt pass".
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError, NotReadyError } from '../core/errors.ts';
import type { ProbeSpec } from '../core/model.ts';
import type { ContainerEngine } from '../engines/types.ts';

/** The result of one probe attempt. */
export interface ProbeAttempt {
  ok: boolean;
  detail: string;
}

/** Runs one probe attempt against a running container at `ip`. */
export async function probeOnce(
  engine: ContainerEngine,
  containerId: string,
  ip: string,
  probe: ProbeSpec,
  signal: AbortSignal,
): Promise<ProbeAttempt> {
  const timeout = AbortSignal.any([signal, AbortSignal.timeout(probe.timeoutSeconds * 1000)]);
  try {
    if (probe.exec) {
      const r = await engine.exec(containerId, probe.exec, { signal: timeout });
      return {
        ok: r.exitCode === 0,
        detail: `exec ${JSON.stringify(probe.exec)} exited ${r.exitCode}${r.stderr ? `: ${r.stderr.trim().slice(-200)}` : ''}`,
      };
    }
    if (probe.tcp) return await tcpProbe(ip, probe.tcp.port, timeout);
    if (probe.http) {
      const status = await httpStatus(ip, probe.http.port, probe.http.path, timeout);
      return { ok: status >= 200 && status < 400, detail: `GET ${probe.http.path} → HTTP ${status}` };
    }
    return { ok: false, detail: 'probe has no exec, tcp or http' };
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    return { ok: false, detail: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * The status of `GET path` (body discarded). node:http rather than fetch: fetch loads Node's
 * internal undici, ~50 ms of CPU per molt run for one probe.
 */
function httpStatus(host: string, port: number, path: string, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    // node:http loads only for an HTTP probe: most probes exec or connect, and nothing else in an
    // upgrade over a unix socket needs it (docker/unix-http.ts).
    const { request } = process.getBuiltinModule('node:http');
    const req = request({ host, port, path, method: 'GET', signal, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

function tcpProbe(host: string, port: number, signal: AbortSignal): Promise<ProbeAttempt> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, signal });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ ok: true, detail: `tcp ${host}:${port} accepted` });
    });
    socket.once('error', (e) => resolve({ ok: false, detail: `tcp ${host}:${port}: ${e.message}` }));
  });
}

/** How long and how to wait for a container to become ready. */
export interface ReadinessWait {
  containerId: string;
  ip: string;
  probe: ProbeSpec | undefined;
  /** Used instead of the probe's own threshold (e.g. raised during upgrades). */
  failureThreshold?: number;
  minReadySeconds: number;
  signal: AbortSignal;
  onAttempt?: (attempt: ProbeAttempt, n: number) => void;
}

/**
 * Waits until the container passes its startup probe (or, without one, has kept running for
 * minReadySeconds). Throws NotReadyError when it exits or the probe budget is spent.
 */
export async function awaitReady(engine: ContainerEngine, wait: ReadinessWait): Promise<string> {
  const started = Date.now();
  const threshold = wait.failureThreshold ?? wait.probe?.failureThreshold ?? 1;
  let failures = 0;
  let last: ProbeAttempt | undefined;
  for (;;) {
    if (wait.signal.aborted)
      throw wait.signal.reason instanceof Error
        ? wait.signal.reason
        : new InterruptedError('Interrupted', 'interrupted');
    const attemptStarted = Date.now();
    await assertStillRunning(engine, wait.containerId);
    if (!wait.probe) {
      if (Date.now() - started >= wait.minReadySeconds * 1000) return `kept running for ${wait.minReadySeconds}s`;
      await sleep(Math.min(250, wait.minReadySeconds * 1000), undefined, { signal: wait.signal }).catch(
        () => undefined,
      );
      continue;
    }
    last = await probeOnce(engine, wait.containerId, wait.ip, wait.probe, wait.signal);
    wait.onAttempt?.(last, failures + 1);
    if (last.ok) {
      await assertStillRunning(engine, wait.containerId);
      return `startup probe passed after ${((Date.now() - started) / 1000).toFixed(1)}s (${last.detail})`;
    }
    if (++failures >= threshold) {
      throw new NotReadyError(
        'ProbeFailed',
        `startup probe failed ${failures} times; last: ${last.detail}`,
        "Check the new version's logs (`molt history` shows them) and its startup probe in the manifest.",
      );
    }
    // Attempts start every periodSeconds (like the kubelet's), not periodSeconds after the last
    // one ended: the failure budget stays threshold × period of time even when the engine is slow.
    const pause = wait.probe.periodSeconds * 1000 - (Date.now() - attemptStarted);
    if (pause > 0) await sleep(pause, undefined, { signal: wait.signal }).catch(() => undefined);
  }
}

async function assertStillRunning(engine: ContainerEngine, id: string): Promise<void> {
  const c = await engine.inspectState(id);
  if (!c)
    throw new NotReadyError(
      'ContainerExited',
      `container ${id.slice(0, 12)} disappeared while starting`,
      'Something removed the container; check other tools acting on the engine.',
    );
  // A container that died while starting and was started again by the engine's restart policy
  // runs again, but it crashed: like a crash loop on Kubernetes, that is not a ready version.
  const restarts = c.restartCount ?? 0;
  if (c.running && restarts === 0) return;
  const logs = await engine.logs(id, 20).catch(() => '');
  const tail = logs.trim() ? `; last output:\n${logs.trim()}` : '';
  // Reported as the exit it was (the same code whether or not the engine restarted it first).
  if (c.running)
    throw new NotReadyError(
      'ContainerExited',
      `the new container exited while starting and the engine's restart policy started it again (${restarts} restart${restarts === 1 ? '' : 's'}${c.exitCode ? `, last exit code ${c.exitCode}` : ''})${tail}`,
      'Check the command and image of the new version; its output is above.',
    );
  if (c.oomKilled)
    throw new NotReadyError(
      'ContainerOOMKilled',
      `the new container was killed for lack of memory (exit ${c.exitCode})${tail}`,
      'Give the container more memory or fix its memory use.',
    );
  const killed =
    c.exitCode === 137
      ? " — killed by SIGKILL: from outside, or by the kernel's out-of-memory killer (the engine does not always report OOM)"
      : '';
  throw new NotReadyError(
    'ContainerExited',
    `the new container exited with code ${c.exitCode} (${c.status})${killed}${tail}`,
    killed
      ? "Check the host's kernel log (dmesg) for an out-of-memory kill, and the container's memory limit."
      : 'Check the command and image of the new version; its output is above.',
  );
}
