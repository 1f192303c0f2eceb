/**
 * What the engine shows of an app's container right now, and what that means for the app's
 * status (honest status, issue 13): the journal says what molt did; the engine says what runs.
 * Pure: the runner observes (one list call for all apps) and passes the observations in.
 */
import { setCondition, type AppStatus, type Condition } from './status.ts';
import type { Reason } from './policy/reasons.ts';

/** The state of one container as the engine reports it (a list entry, or an inspect). */
export interface ContainerState {
  id: string;
  name: string;
  /** The app it belongs to (label dev.molt.app). */
  app?: string;
  running: boolean;
  /** The engine's word: created, running, exited, paused, stopped… */
  status: string;
  exitCode?: number;
  /** Known only from an inspect. */
  oomKilled?: boolean;
  /** Restarts by the engine's restart policy; known only from an inspect. */
  restartCount?: number;
  startedAt?: string;
  finishedAt?: string;
  /** The engine's health status, when the container has a healthcheck. */
  health?: 'starting' | 'healthy' | 'unhealthy';
  /** Host PID of the main process (0 when not running). */
  pid?: number;
  /** The engine's error text for the last start, if any. */
  error?: string;
}

/** Whether the user wants the app to run: `molt stop` records stopped, `molt start` running. */
export interface RunIntent {
  desired: 'running' | 'stopped';
  changedAt: string;
}

/** What the container of an app looks like in the status (`status.container`). */
export interface ContainerStatus {
  id: string;
  name: string;
  state: string;
  exitCode?: number;
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
  health?: string;
}

/** The container that is the app's own among those carrying its label. */
export function appContainer(
  app: string,
  containerId: string | undefined,
  candidates: ContainerState[],
): ContainerState | undefined {
  return candidates.find((c) => c.id === containerId) ?? candidates.find((c) => c.name === app);
}

/** The engine's reason for a container that does not run: OOMKilled, or "exited N (…)". */
export function stopReason(c: ContainerState): { reason: Reason; message: string } {
  if (c.status === 'created' || c.status === 'configured')
    return { reason: 'ContainerNotStarted', message: `container ${c.name} was created but never started` };
  if (c.status === 'paused') return { reason: 'ContainerPaused', message: `container ${c.name} is paused` };
  const code = c.exitCode ?? 0;
  const when = c.finishedAt ? ` at ${c.finishedAt}` : '';
  if (c.oomKilled)
    return {
      reason: 'OOMKilled',
      message: `container ${c.name} was killed for lack of memory (exit code ${code})${when}`,
    };
  const signal =
    code > 128 && code < 160
      ? ` (killed by signal ${code - 128}${code === 137 ? ", SIGKILL: from outside or the kernel's out-of-memory killer" : ''})`
      : '';
  return {
    reason: code === 0 ? 'Completed' : 'Error',
    message: `container ${c.name} exited with code ${code}${signal}${when}${c.error ? `: ${c.error}` : ''}`,
  };
}

/** Phases that belong to an operation in flight: the journal knows better than a snapshot of the engine. */
const IN_FLIGHT = new Set(['Installing', 'Upgrading', 'RollingBack']);

/**
 * The status to show for an app: its journaled `status`, corrected by what the engine shows.
 * `container` undefined means the engine has no container for it; `observed` false means the
 * engine could not be asked (the status is then the record's, Ready Unknown).
 */
export function observedStatus(
  status: AppStatus,
  installed: boolean,
  obs: { observed: boolean; container?: ContainerState; intent?: RunIntent; now: string },
): AppStatus {
  if (!installed || IN_FLIGHT.has(status.phase)) return status;
  if (!obs.observed) {
    return {
      ...status,
      conditions: setCondition(
        status.conditions,
        {
          type: 'Ready',
          status: 'Unknown',
          reason: 'EngineUnreachable',
          message: "the container engine did not answer; this is molt's record, not an observation",
        },
        obs.now,
      ),
    };
  }
  const c = obs.container;
  const stopped = obs.intent?.desired === 'stopped';
  const extra = c
    ? { container: containerStatus(c), ...(c.restartCount !== undefined ? { restartCount: c.restartCount } : {}) }
    : {};
  let phase: AppStatus['phase'];
  let ready: Omit<Condition, 'lastTransitionTime'>;
  let since = obs.now;
  if (!c) {
    phase = 'Degraded';
    ready = {
      type: 'Ready',
      status: 'False',
      reason: 'ContainerMissing',
      message:
        "the app's container is gone; `molt apply -f` of its manifest, `molt start` or `molt up` recreates it on the same volumes and IP",
    };
  } else if (c.running && c.health === 'unhealthy') {
    phase = 'Degraded';
    ready = {
      type: 'Ready',
      status: 'False',
      reason: 'Unhealthy',
      message: `container ${c.name} runs but its healthcheck fails`,
    };
  } else if (c.running) {
    phase = 'Running';
    ready = {
      type: 'Ready',
      status: 'True',
      reason: 'Running',
      message: `container ${c.name} is running${c.health ? ` (health: ${c.health})` : ''}`,
    };
    since = c.startedAt ?? obs.now;
  } else if (stopped) {
    phase = 'Stopped';
    ready = {
      type: 'Ready',
      status: 'False',
      reason: 'StoppedByUser',
      message: `stopped on purpose with \`molt stop\` at ${obs.intent?.changedAt}; \`molt start\` runs it again`,
    };
    since = obs.intent?.changedAt ?? obs.now;
  } else {
    phase = 'Degraded';
    const why = stopReason(c);
    ready = { type: 'Ready', status: 'False', reason: why.reason, message: why.message };
    since = c.finishedAt ?? obs.now;
  }
  const prev = status.conditions.find((x) => x.type === 'Ready');
  const changed = !prev || prev.status !== ready.status || prev.reason !== ready.reason;
  const conditions = [
    ...status.conditions.filter((x) => x.type !== 'Ready'),
    { ...ready, lastTransitionTime: changed ? since : prev.lastTransitionTime },
  ];
  return { ...status, phase, conditions, ...extra };
}

function containerStatus(c: ContainerState): ContainerStatus {
  const reason = c.running ? undefined : stopReason(c).reason;
  return {
    id: c.id,
    name: c.name,
    state: c.status,
    ...(c.running ? {} : { exitCode: c.exitCode ?? 0 }),
    ...(reason ? { reason } : {}),
    ...(c.startedAt ? { startedAt: c.startedAt } : {}),
    ...(!c.running && c.finishedAt ? { finishedAt: c.finishedAt } : {}),
    ...(c.health ? { health: c.health } : {}),
  };
}
