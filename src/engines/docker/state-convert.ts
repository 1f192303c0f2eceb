/**
 * The run state of containers as the engines report it: Podman's own list (one call gives the
 * exit code, start and exit times, health and PID of every container), Docker's list (the exit
 * code only inside its Status text) and the inspect output (adds OOMKilled and RestartCount).
 * Pure, no I/O.
 */
import type { ContainerState } from '../../core/observed.ts';
import { LABEL } from '../../core/model.ts';

/** One entry of Podman's GET /libpod/containers/json. */
export interface LibpodListJson {
  Id: string;
  Names?: string[] | null;
  Labels?: Record<string, string> | null;
  State: string;
  /** The health status ("healthy", "starting", "unhealthy") or "". */
  Status?: string;
  ExitCode?: number;
  Exited?: boolean;
  ExitedAt?: number;
  StartedAt?: number;
  Pid?: number;
}

/** One entry of the Docker-compatible GET /containers/json. */
export interface CompatListJson {
  Id: string;
  Names?: string[] | null;
  Labels?: Record<string, string> | null;
  State: string;
  /** "Up 5 minutes (healthy)", "Exited (137) 6 seconds ago", … */
  Status?: string;
}

/** The parts of GET /containers/{id}/json that describe its run state. */
export interface InspectStateJson {
  Id: string;
  Name: string;
  Config?: { Labels?: Record<string, string> | null } | null;
  State: {
    Status: string;
    Running: boolean;
    ExitCode?: number;
    OOMKilled?: boolean;
    Pid?: number;
    Error?: string;
    StartedAt?: string;
    FinishedAt?: string;
    Health?: { Status?: string } | null;
  };
  RestartCount?: number;
}

const ZERO_TIME = /^0001-01-01/;

function health(value: string | undefined): ContainerState['health'] {
  return value === 'healthy' || value === 'unhealthy' || value === 'starting' ? value : undefined;
}

function unixTime(seconds: number | undefined): string | undefined {
  return seconds && seconds > 0 ? new Date(seconds * 1000).toISOString() : undefined;
}

function isoTime(value: string | undefined): string | undefined {
  return value && !ZERO_TIME.test(value) ? new Date(value).toISOString() : undefined;
}

/** A Podman list entry as a ContainerState. */
export function fromLibpodList(c: LibpodListJson): ContainerState {
  const running = c.State === 'running';
  const exited = !running && (c.Exited === true || c.State === 'exited' || c.State === 'stopped');
  return {
    id: c.Id,
    name: c.Names?.[0] ?? c.Id.slice(0, 12),
    running,
    status: c.State,
    ...(c.Labels?.[LABEL.app] ? { app: c.Labels[LABEL.app] } : {}),
    ...(exited ? { exitCode: c.ExitCode ?? 0 } : {}),
    ...(unixTime(c.StartedAt) ? { startedAt: unixTime(c.StartedAt) } : {}),
    ...(exited && unixTime(c.ExitedAt) ? { finishedAt: unixTime(c.ExitedAt) } : {}),
    ...(health(c.Status) ? { health: health(c.Status) } : {}),
    ...(c.Pid ? { pid: c.Pid } : {}),
  };
}

/** A Docker list entry as a ContainerState (the exit code read from "Exited (N) …"). */
export function fromCompatList(c: CompatListJson): ContainerState {
  const running = c.State === 'running';
  const code = /^Exited \((-?\d+)\)/.exec(c.Status ?? '')?.[1];
  const healthy = health(/\((?:health: )?(healthy|unhealthy|starting)\)/.exec(c.Status ?? '')?.[1]);
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
    running,
    status: c.State,
    ...(c.Labels?.[LABEL.app] ? { app: c.Labels[LABEL.app] } : {}),
    ...(code !== undefined ? { exitCode: Number(code) } : {}),
    ...(healthy ? { health: healthy } : {}),
  };
}

/** An inspect as a ContainerState, with what only an inspect tells: OOMKilled and RestartCount. */
export function fromInspect(c: InspectStateJson): ContainerState {
  const s = c.State;
  const labels = c.Config?.Labels ?? {};
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    running: s.Running,
    status: s.Status,
    ...(labels[LABEL.app] ? { app: labels[LABEL.app] } : {}),
    ...(s.Running ? {} : { exitCode: s.ExitCode ?? 0 }),
    oomKilled: s.OOMKilled === true,
    restartCount: c.RestartCount ?? 0,
    ...(isoTime(s.StartedAt) ? { startedAt: isoTime(s.StartedAt) } : {}),
    ...(!s.Running && isoTime(s.FinishedAt) ? { finishedAt: isoTime(s.FinishedAt) } : {}),
    ...(health(s.Health?.Status) ? { health: health(s.Health?.Status) } : {}),
    ...(s.Pid ? { pid: s.Pid } : {}),
    ...(s.Error ? { error: s.Error } : {}),
  };
}
