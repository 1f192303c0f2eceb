/**
 * What the App reconciler sees of the cluster, as plain data: the App's desired spec
 * (validated), the StatefulSet's records (installed spec, upgrade in flight, last outcome) and
 * each member pod's state. `observe.ts` fills it from the API; `decide.ts` reads it. The pure
 * helpers here turn API objects into that view.
 */
import type { AppManifest, AppSpec } from '../../core/model.ts';
import type { ErrorRecord } from '../../core/errors.ts';
import type { FailureCode } from '../../core/policy/index.ts';
import type { KubeObject, Pod, StatefulSet } from '../../engines/kubernetes/index.ts';
import { COPY_ANNOTATIONS, COPY_LABELS } from './volume-copy.ts';
import { ANNOTATIONS, LABELS, MAIN_CONTAINER } from './names.ts';
import type { ScriptRunRecord } from './scripts.ts';

/** The installed spec, kept on the StatefulSet once an install or upgrade finished. */
export interface InstalledRecord {
  version: string;
  hash: string;
  spec: AppSpec;
  /** The image digest it runs (`sha256:…`); the template pins it (`repo@digest`) when it is a registry digest. */
  digest?: string;
  /** Registry digests that ran, by "<version> <image>" (the last 20): what `molt rollback` to that version runs again. */
  ran?: Record<string, string>;
}

/** The upgrade in flight, kept on the StatefulSet (the journal the next pass reads). */
export interface UpgradeJournal {
  state: 'Upgrading' | 'RollingBack';
  from: string;
  to: string;
  fromHash: string;
  toHash: string;
  /** The spec being rolled out. */
  target: AppSpec;
  generation: number;
  startedAt: string;
  /** Members whose pre-upgrade script succeeded. */
  preUpgraded: string[];
  /** Members whose post-upgrade script succeeded. */
  postUpgraded: string[];
  /** Failed post-upgrade attempts per member (onFailure: retry). */
  postAttempts: Record<string, number>;
  /** The script run in flight (journaled before it starts, so it is never started twice). */
  running?: ScriptRunRecord;
  /** Why it is rolling back. */
  cause?: ErrorRecord;
  /** Started by `molt rollback` (history kind "rollback"). */
  rollback?: boolean;
  /** The registry digest of the target image, resolved when the upgrade began (pinned in the template). */
  digest?: string;
  /** The scripts that run: spec.upgrade's, else the target image's labels (read from its registry). */
  scripts?: { preUpgrade?: string; postUpgrade?: string; notification?: string };
  /** Members whose volumes are being copied / were copied before their pre-upgrade script (volume-copy.ts). */
  snapshots?: Record<string, 'copying' | 'copied'>;
  /** Members held down (StatefulSet at 0 replicas) for the restore of their volumes, and how far it got. */
  restores?: Record<string, 'held' | 'restoring' | 'restored'>;
}

/** The outcome of the last upgrade; a failed one is not retried for the same spec. */
export interface LastUpgradeRecord {
  from?: string;
  to: string;
  toHash: string;
  outcome: 'Succeeded' | 'RolledBack' | 'Aborted';
  reason: string;
  message: string;
  startedAt?: string;
  finishedAt: string;
  /** The operation was a `molt rollback`. */
  rollback?: boolean;
  fromImage?: string;
  toImage?: string;
  /** The whole spec installed before: what `molt rollback` restores (not just version and image). */
  fromSpec?: AppSpec;
  /** The digest installed before (what `molt rollback` runs again) and the digest upgraded to. */
  fromDigest?: string;
  toDigest?: string;
}

/** One member pod as the reconciler needs it. */
export interface PodView {
  name: string;
  uid: string;
  hash: string;
  version: string;
  terminating: boolean;
  phase: string;
  ready: boolean;
  /** When Ready last became True (ms since epoch). */
  readySince?: number;
  /** The main container is running (started, maybe not ready). */
  running: boolean;
  restarts: number;
  /** The main container's imageID as the runtime reports it. */
  imageID?: string;
  waitingReason?: string;
  waitingMessage?: string;
  lastTerminated?: string;
  createdAt: number;
}

/** A member slot: its pod, if one exists now. */
export interface MemberView {
  name: string;
  ordinal: number;
  pod?: PodView;
}

/** A copy Job (volume-copy.ts) of the app. */
export interface CopyJobView {
  name: string;
  member: string;
  generation: number;
  op: 'snapshot' | 'restore';
  succeeded: boolean;
  failed: boolean;
  /** The copy's report (termination message of a succeeded pod) or why it failed. */
  message?: string;
}

/** A claim holding an archive of one volume of one operation (volume-copy.ts). */
export interface CopyClaimView {
  name: string;
  member: string;
  volume: string;
  generation: number;
  kind: 'snapshot' | 'displaced';
  createdAt: string;
  from?: string;
  to?: string;
  bytes?: number;
}

/** The desired spec: valid, or why not. */
export type Desired =
  | { ok: true; manifest: AppManifest; hash: string }
  | { ok: false; reason: FailureCode; message: string };

/** What one reconcile pass sees. */
export interface AppWorld {
  now: number;
  app: { name: string; namespace: string; generation: number; deleting: boolean; rollbackTo?: string };
  desired: Desired;
  /** Undefined when the StatefulSet does not exist. */
  sts?: {
    templateHash: string;
    /** The main container's image in the template (`repo@digest` when pinned). */
    templateImage?: string;
    upgradeMode: boolean;
    /** spec.replicas: 0 while a member is held down for a restore. */
    replicas?: number;
    installed?: InstalledRecord;
    journal?: UpgradeJournal;
    last?: LastUpgradeRecord;
  };
  /** Members from the highest ordinal down. */
  members: MemberView[];
  execPods: {
    name: string;
    hash: string;
    running: boolean;
    waitingReason?: string;
    waitingMessage?: string;
    terminating: boolean;
  }[];
  /** The app's copy Jobs and copy claims. */
  copyJobs: CopyJobView[];
  copies: CopyClaimView[];
}

/** The scripts an upgrade runs: those the journal resolved (spec, else image labels), else the spec's. */
export function scriptsOf(j: UpgradeJournal): { preUpgrade?: string; postUpgrade?: string; notification?: string } {
  const u = j.target.upgrade;
  return (
    j.scripts ?? {
      ...(u.preUpgrade ? { preUpgrade: u.preUpgrade } : {}),
      ...(u.postUpgrade ? { postUpgrade: u.postUpgrade } : {}),
      ...(u.notification ? { notification: u.notification } : {}),
    }
  );
}

/** The digest in a runtime imageID: `repo@sha256:…` → `sha256:…` (pinnable), `sha256:…` (an image ID) as it is. */
export function digestOfImageID(imageID: string | undefined): { digest: string; pinnable: boolean } | undefined {
  if (!imageID) return undefined;
  const id = imageID.replace(/^[a-z-]+:\/\//, '');
  const at = id.lastIndexOf('@');
  if (at >= 0) return { digest: id.slice(at + 1), pinnable: true };
  return /^sha256:[0-9a-f]{64}$/.test(id) ? { digest: id, pinnable: false } : undefined;
}

/** Reads a JSON annotation; undefined when absent or unreadable. */
export function annotationJson<T>(
  obj: { metadata: { annotations?: Record<string, string> } } | undefined,
  key: string,
): T | undefined {
  const raw = obj?.metadata.annotations?.[key];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}

/** The StatefulSet's part of the world. */
export function stsView(sts: StatefulSet): NonNullable<AppWorld['sts']> {
  const template = sts.spec?.template.metadata;
  return {
    templateHash: template?.labels?.[LABELS.specHash] ?? '',
    templateImage: sts.spec?.template.spec.containers.find((c) => c.name === MAIN_CONTAINER)?.image,
    upgradeMode: template?.annotations?.[ANNOTATIONS.upgradeMode] === 'true',
    replicas: sts.spec?.replicas ?? 1,
    installed: annotationJson<InstalledRecord>(sts, ANNOTATIONS.installed),
    journal: annotationJson<UpgradeJournal>(sts, ANNOTATIONS.upgrade),
    last: annotationJson<LastUpgradeRecord>(sts, ANNOTATIONS.last),
  };
}

/** A pod as the reconciler sees it (the main container's state decides). */
export function podView(pod: Pod, container = MAIN_CONTAINER): PodView {
  const cs = pod.status?.containerStatuses?.find((c) => c.name === container) ?? pod.status?.containerStatuses?.[0];
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const view: PodView = {
    name: pod.metadata.name ?? '',
    uid: pod.metadata.uid ?? '',
    hash: pod.metadata.labels?.[LABELS.specHash] ?? '',
    version: pod.metadata.labels?.[LABELS.version] ?? '',
    terminating: pod.metadata.deletionTimestamp !== undefined,
    phase: pod.status?.phase ?? 'Pending',
    ready: ready?.status === 'True',
    running: cs?.state?.running !== undefined,
    restarts: cs?.restartCount ?? 0,
    createdAt: Date.parse(pod.metadata.creationTimestamp ?? '') || 0,
  };
  if (view.ready && ready?.lastTransitionTime) view.readySince = Date.parse(ready.lastTransitionTime);
  if (cs?.imageID) view.imageID = cs.imageID;
  if (cs?.state?.waiting?.reason) view.waitingReason = cs.state.waiting.reason;
  if (cs?.state?.waiting?.message) view.waitingMessage = cs.state.waiting.message;
  const last = cs?.lastState?.terminated ?? cs?.state?.terminated;
  if (last)
    view.lastTerminated = `${last.reason ?? 'exited'} (exit code ${last.exitCode})${last.message ? `: ${last.message}` : ''}`;
  return view;
}

/** A copy Job as the reconciler sees it; `pods` are its pods (for the copy's report or failure). */
export function copyJobView(
  job: KubeObject & { status?: { succeeded?: number; failed?: number; conditions?: JobCondition[] } },
  pods: Pod[],
): CopyJobView | undefined {
  const l = job.metadata.labels ?? {};
  const op = l[COPY_LABELS.operation];
  const member = l[COPY_LABELS.member];
  if ((op !== 'snapshot' && op !== 'restore') || !member) return undefined;
  const cond = (type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
  const failedCond = cond('Failed');
  const succeeded = cond('Complete') !== undefined || (job.status?.succeeded ?? 0) > 0;
  const mine = pods
    .filter((p) => p.metadata.labels?.['job-name'] === job.metadata.name)
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
  const ended = mine
    .map((p) => p.status?.containerStatuses?.find((c) => c.name === 'copy')?.state?.terminated)
    .filter((t) => t !== undefined);
  const last = succeeded ? ended.find((t) => t.exitCode === 0) : ended.at(-1);
  const message = last?.message?.trim() || failedCond?.message;
  return {
    name: job.metadata.name ?? '',
    member,
    generation: Number(l[COPY_LABELS.generation] ?? 0),
    op,
    succeeded,
    failed: !succeeded && failedCond !== undefined,
    ...(message ? { message } : {}),
  };
}

interface JobCondition {
  type: string;
  status: string;
  message?: string;
}

/** A copy claim as the reconciler and `molt snapshots` see it. */
export function copyClaimView(pvc: KubeObject): CopyClaimView | undefined {
  const l = pvc.metadata.labels ?? {};
  const a = pvc.metadata.annotations ?? {};
  const kind = l[COPY_LABELS.kind];
  const member = l[COPY_LABELS.member];
  const volume = l[COPY_LABELS.volume];
  if ((kind !== 'snapshot' && kind !== 'displaced') || !member || !volume) return undefined;
  const bytes = Number(a[COPY_ANNOTATIONS.bytes]);
  return {
    name: pvc.metadata.name ?? '',
    member,
    volume,
    generation: Number(l[COPY_LABELS.generation] ?? 0),
    kind,
    createdAt: pvc.metadata.creationTimestamp ?? '',
    ...(a[COPY_ANNOTATIONS.from] ? { from: a[COPY_ANNOTATIONS.from] } : {}),
    ...(a[COPY_ANNOTATIONS.to] ? { to: a[COPY_ANNOTATIONS.to] } : {}),
    ...(Number.isFinite(bytes) && a[COPY_ANNOTATIONS.bytes] ? { bytes } : {}),
  };
}
