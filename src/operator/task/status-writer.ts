/**
 * The task worker's record: the UpgradeTask's status subresource, kept in memory and written
 * back (one JSON merge patch of the worker's fields) whenever it changes — before the worker
 * acts on what it wrote (a Waiting entry exists before the step starts). Writes are
 * serialized and coalesced: targets running in parallel never interleave two patches.
 */
import {
  countTargets,
  settleEntry,
  waitingEntry,
  type DetailedStatus,
  type TargetPhase,
} from '../../core/task-progress.ts';
import { RESOURCES, type ResourceApi } from '../../engines/kubernetes/index.ts';
import type { TaskTargetStatus, UpgradeTaskStatus } from '../crd/status.ts';

/** The status fields the worker owns (the operator owns `job` and `conditions`). */
const WORKER_FIELDS = [
  'phase',
  'startTime',
  'completedTime',
  'retries',
  'runs',
  'reason',
  'message',
  'counts',
  'targets',
  'upgradeDetailedStatuses',
] as const;

/** One step entry being written: settle it when the step ends. */
export interface StepHandle {
  /** Updates the Waiting entry's message (written at the next save). */
  note(message: string): void;
  done(message: string): Promise<void>;
  failed(reason: string, message: string): Promise<void>;
}

/** The status of one task, as the worker writes it. */
export class TaskStatusWriter {
  status: UpgradeTaskStatus;
  private readonly api: ResourceApi;
  private readonly namespace: string;
  private readonly name: string;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(api: ResourceApi, namespace: string, name: string, status: UpgradeTaskStatus | undefined) {
    this.api = api;
    this.namespace = namespace;
    this.name = name;
    this.status = structuredClone(status ?? {});
  }

  /** The targets, in order. */
  get targets(): TaskTargetStatus[] {
    return this.status.targets ?? [];
  }

  /** Replaces one target (by name) and recounts. */
  setTarget(t: TaskTargetStatus): void {
    this.status.targets = this.targets.map((x) => (x.name === t.name ? t : x));
    this.recount();
  }

  /** Recomputes `counts` from the targets' phases. */
  recount(): void {
    this.status.counts = countTargets(this.targets.map((t) => t.phase as TargetPhase));
  }

  /** Adds a Waiting entry for `step` of `target` and writes it; the handle settles it. */
  async begin(target: string, step: string, message: string): Promise<StepHandle> {
    const entries = (this.status.upgradeDetailedStatuses ??= []);
    const index = entries.push(waitingEntry(target, step, new Date().toISOString(), message)) - 1;
    await this.save();
    const current = (): DetailedStatus => entries[index] as DetailedStatus;
    return {
      note: (m) => {
        if (current().message !== m)
          entries[index] = { ...current(), message: m, lastUpdatedAt: new Date().toISOString() };
      },
      done: (m) => {
        entries[index] = settleEntry(current(), new Date().toISOString(), { phase: 'Completed', message: m });
        return this.save();
      },
      failed: (reason, m) => {
        entries[index] = settleEntry(current(), new Date().toISOString(), { phase: 'Errored', reason, message: m });
        return this.save();
      },
    };
  }

  /** Entries a stopped worker left Waiting become Errored (Interrupted); the new run starts them afresh. */
  interruptWaiting(): void {
    const now = new Date().toISOString();
    this.status.upgradeDetailedStatuses = (this.status.upgradeDetailedStatuses ?? []).map((e) =>
      e.phase === 'Waiting'
        ? settleEntry(e, now, {
            phase: 'Errored',
            reason: 'Interrupted',
            message: `${e.message ? `${e.message}; ` : ''}the worker pod stopped during this step; the next run continued from the App's state`,
          })
        : e,
    );
  }

  /** The newest entry of `step` for `target`, if any. */
  lastEntry(target: string, step: string): DetailedStatus | undefined {
    return (this.status.upgradeDetailedStatuses ?? []).filter((e) => e.target === target && e.step === step).at(-1);
  }

  /**
   * Writes the worker's fields (after any write in flight; a burst of changes is one write).
   * A failed write is tried 5 times over ~15 s, then rejects this call only: the next save
   * writes everything again, so nothing recorded is lost while the API server blips.
   */
  save(): Promise<void> {
    this.dirty = true;
    const write = this.writing
      .catch(() => undefined)
      .then(async () => {
        if (!this.dirty) return;
        this.dirty = false;
        const patch: Record<string, unknown> = {};
        for (const k of WORKER_FIELDS) patch[k] = this.status[k] ?? null;
        for (let attempt = 1; ; attempt++) {
          try {
            await this.api.mergePatch(RESOURCES.upgradeTasks, this.namespace, this.name, { status: patch }, 'status');
            return;
          } catch (e) {
            if (attempt >= 5) {
              this.dirty = true;
              throw e;
            }
            await new Promise((r) => setTimeout(r, 1000 * attempt));
          }
        }
      });
    this.writing = write;
    return write;
  }
}
