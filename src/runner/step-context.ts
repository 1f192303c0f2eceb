/**
 * What every step gets, and the small look-ups steps share. Steps act through `engine`, keep
 * files under `home`, and write what they learn into `facts` (journaled after the step).
 */
import { LABEL, type AppManifest } from '../core/model.ts';
import type { OldInstance } from '../core/container-spec.ts';
import type { ContainerEngine } from '../engines/types.ts';
import type { Store } from '../store/store.ts';
import type { OperationFacts, OperationRecord } from '../store/types.ts';

/** What a step may use. `facts` is journaled with the state after the step. */
export interface StepContext {
  engine: ContainerEngine;
  op: OperationRecord;
  facts: OperationFacts;
  signal: AbortSignal;
  log: (line: string) => void;
  /** molt's home (scripts and snapshots are kept below it). */
  home: string;
  /** The store, for reservations shared between concurrent operations (IPs). */
  store: Store;
}

/** What a step reports: a one-line message, and any output worth keeping in the history. */
export type StepResult = string | { message: string; output: string };

/** One step of the machine. */
export type Step = (ctx: StepContext) => Promise<StepResult>;

export const manifestOf = (ctx: StepContext): AppManifest => {
  const { manifest, pinnedImage } = ctx.op.plan;
  return pinnedImage ? { ...manifest, spec: { ...manifest.spec, image: pinnedImage } } : manifest;
};
export const appName = (ctx: StepContext): string => manifestOf(ctx).metadata.name;

/** The new container of this operation, found by its label (survives a crash right after create). */
export async function findNew(ctx: StepContext): Promise<string | undefined> {
  const found = await ctx.engine.listContainers([`${LABEL.upgrade}=${ctx.op.id}`, `${LABEL.app}=${appName(ctx)}`]);
  return found.find((c) => c.labels[LABEL.helper] === undefined)?.id;
}

export function requireOld(ctx: StepContext): NonNullable<OperationRecord['plan']['old']> {
  const old = ctx.op.plan.old;
  if (!old) throw new Error(`internal: step needs the old instance but operation ${ctx.op.id} is an install`);
  return old;
}

export function oldInstance(ctx: StepContext): OldInstance | undefined {
  const old = ctx.op.plan.old;
  return old && { container: old.container, image: old.image, manifest: ctx.op.plan.previous };
}

export function requireIp(ctx: StepContext): string {
  if (!ctx.facts.ip) throw new Error('internal: no IP chosen before CreateNew');
  return ctx.facts.ip;
}
