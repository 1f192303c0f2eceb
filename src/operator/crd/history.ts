/**
 * `status.history` of an App, pure: the operator derives entries from the records it keeps on
 * the StatefulSets (the last outcome, the installed spec) and from refusals, so writing the
 * status again after a failed write adds nothing twice. Bounded to HISTORY_LIMIT entries.
 */
import { HISTORY_LIMIT, type HistoryEntry } from './status.ts';

function bounded(history: HistoryEntry[]): HistoryEntry[] {
  return history.slice(-HISTORY_LIMIT);
}

/** Appends a finished operation unless it is already there (same kind, target and end time). */
export function recordFinished(history: HistoryEntry[] | undefined, entry: HistoryEntry): HistoryEntry[] {
  const h = history ?? [];
  if (h.some((e) => e.finishedAt === entry.finishedAt && e.to === entry.to && e.kind === entry.kind)) return h;
  return bounded([...h, entry]);
}

/** Appends the install of `to` when nothing was recorded yet (the first entry of every app). */
export function recordInstall(
  history: HistoryEntry[] | undefined,
  to: string,
  now: string,
  toImage?: string,
): HistoryEntry[] {
  const h = history ?? [];
  if (h.length > 0) return h;
  return [
    { kind: 'install', to, ...(toImage ? { toImage } : {}), result: 'Succeeded', startedAt: now, finishedAt: now },
  ];
}

/** Appends a refused change once per App generation (a refusal is re-decided on every pass). */
export function recordRefusal(
  history: HistoryEntry[] | undefined,
  r: { from?: string; to: string; cause: string; generation: number; now: string },
): HistoryEntry[] {
  const h = history ?? [];
  if (h.some((e) => e.result === 'Refused' && e.generation === r.generation)) return h;
  const entry: HistoryEntry = {
    kind: 'upgrade',
    to: r.to,
    result: 'Refused',
    startedAt: r.now,
    finishedAt: r.now,
    cause: r.cause,
    generation: r.generation,
    ...(r.from ? { from: r.from } : {}),
  };
  return bounded([...h, entry]);
}
