/**
 * The App reconciler's decision, pure: given the world, the one next step. Level-based — the
 * same world always gives the same step, and every step's effect is visible in the next world
 * (a pod label, an annotation), so repeating a pass never repeats an action.
 *
 * Upgrade (the dogu flow on pods, KubeDirector's order): members from the highest ordinal
 * down; per member: the new version's pre-upgrade script in the old pod → the template
 * switched to the new spec in upgrade mode → the old pod deleted (OnDelete: it comes back from
 * the new template, same name, same claims) → the post-upgrade script in the new pod → Ready
 * within the raised budget. Then the normal template and the installed record. A pull error,
 * a crash loop, a restart, a failed post-upgrade script or a passed budget rolls back:
 * template back to the installed spec, touched members deleted again, Ready within the normal
 * budget. A failure before any member was touched aborts instead (nothing to undo).
 */
import { namedVolumes } from '../../core/settings.ts';
import { UpgradeRefusedError, type ErrorRecord } from '../../core/errors.ts';
import { decide as decideChange } from '../../core/plan.ts';
import type { AppManifest, AppSpec } from '../../core/model.ts';
import {
  fatalWaiting,
  isDowngradeWarning,
  permitDowngrade,
  podFailure as classifyPod,
  readyBudgetMs,
  type FailureCode,
  type PodFailure,
  type Reason,
} from '../../core/policy/index.ts';
import {
  scriptsOf,
  type AppWorld,
  type CopyClaimView,
  type CopyJobView,
  type MemberView,
  type PodView,
  type UpgradeJournal,
} from './world.ts';
import { snapshotsOn } from './volume-copy.ts';

/** The next step of a pass. Terminal steps (wait, steady, refuse, …) end the pass. */
export type Step =
  | { kind: 'Invalid'; reason: FailureCode; message: string }
  | { kind: 'Delete' }
  | { kind: 'Install' }
  | { kind: 'Converge'; message: string }
  | { kind: 'MarkInstalled' }
  | { kind: 'Record' }
  | { kind: 'Refuse'; reason: FailureCode; message: string }
  | { kind: 'Blocked'; message: string }
  | { kind: 'BeginUpgrade'; warnings: string[]; rollback?: boolean }
  | { kind: 'ClearRollbackTo' }
  | { kind: 'SnapshotVolumes'; member: string }
  | { kind: 'PreUpgrade'; member: string }
  | { kind: 'SwitchTemplate'; to: 'target' | 'installed' | 'normal' }
  | { kind: 'RestartMember'; member: string; uid: string }
  | { kind: 'PostUpgrade'; member: string }
  | { kind: 'StartRollback'; cause: ErrorRecord }
  | { kind: 'HoldMember'; member: string }
  | { kind: 'RestoreVolumes'; member: string }
  | { kind: 'ReleaseMember'; member: string }
  | { kind: 'PruneSnapshots'; claims: string[] }
  | { kind: 'Abort'; cause: ErrorRecord }
  | { kind: 'FinishUpgrade' }
  | { kind: 'FinishRollback' }
  | { kind: 'Cleanup'; pods: string[]; jobs?: string[] }
  | { kind: 'Wait'; reason: Reason; message: string; afterMs: number; failure?: PodFailure }
  | { kind: 'Steady' };

/** Steps after which the pass stops and the status is written. */
export const TERMINAL: ReadonlySet<Step['kind']> = new Set(['Invalid', 'Refuse', 'Blocked', 'Wait', 'Steady']);

/** The steps that change the cluster (every kind not TERMINAL); each has a kill point before and after it (reconciler.ts). */
export const ACTING_STEPS = [
  'Delete',
  'Install',
  'Converge',
  'MarkInstalled',
  'Record',
  'BeginUpgrade',
  'SnapshotVolumes',
  'PreUpgrade',
  'SwitchTemplate',
  'RestartMember',
  'PostUpgrade',
  'StartRollback',
  'HoldMember',
  'RestoreVolumes',
  'ReleaseMember',
  'PruneSnapshots',
  'Abort',
  'FinishUpgrade',
  'FinishRollback',
  'Cleanup',
  'ClearRollbackTo',
] as const satisfies readonly Step['kind'][];

/** Why a member's pod has failed (core/policy, timed from its creation), or undefined while it may still become ready. */
export function podFailure(pod: PodView, budgetMs: number, now: number): PodFailure | undefined {
  return classifyPod(pod, pod.createdAt, budgetMs, now);
}

/** True when the pod is ready, and has been for minReadySeconds when there is no startup probe. */
export function podReady(pod: PodView, spec: AppSpec, now: number): boolean {
  if (!pod.ready) return false;
  if (spec.probes.startup) return true;
  return now - (pod.readySince ?? now) >= spec.minReadySeconds * 1000;
}

/** Why a change of spec.volumes cannot be made on a StatefulSet (names, sizes, classes), or undefined. */
export function volumeChange(installed: AppSpec, desired: AppSpec): string | undefined {
  const volumes = (s: AppSpec) =>
    JSON.stringify(
      namedVolumes(s.volumes)
        .map((v) => [v.name, v.size, v.storageClassName].filter((x) => x !== undefined).join(' '))
        .sort(),
    );
  if (volumes(desired) === volumes(installed)) return undefined;
  return `spec.volumes changes the volumes (names, sizes or StorageClasses: ${volumes(installed)} → ${volumes(desired)}); a StatefulSet's volume claims cannot change in place`;
}

/** The next step for the world as it is. */
export function decide(w: AppWorld): Step {
  if (w.app.deleting) return { kind: 'Delete' };
  const journal = w.sts?.journal;
  if (journal) return journal.state === 'Upgrading' ? upgrading(w, journal) : rollingBack(w, journal);
  if (!w.desired.ok) return { kind: 'Invalid', reason: w.desired.reason, message: w.desired.message };
  if (!w.sts) return { kind: 'Install' };
  if (!w.sts.installed) return installing(w);
  return steady(w);
}

function installing(w: AppWorld): Step {
  if (!w.desired.ok || !w.sts) return { kind: 'Steady' };
  const { manifest, hash } = w.desired;
  if (w.sts.templateHash !== hash || w.sts.upgradeMode)
    return { kind: 'Converge', message: 'the spec changed while installing' };
  const stale = w.members.find((m) => m.pod && m.pod.hash !== hash && !m.pod.terminating);
  if (stale?.pod) return { kind: 'RestartMember', member: stale.name, uid: stale.pod.uid };
  for (const m of w.members) {
    if (!m.pod || m.pod.terminating) return wait('Installing', `waiting for pod ${m.name}`, 1000);
    const failure = podFailure(m.pod, readyBudgetMs(manifest.spec, false), w.now);
    if (failure) return { ...wait('InstallFailed', failure.message, 15_000), failure };
    if (!podReady(m.pod, manifest.spec, w.now))
      return wait('Installing', `waiting for pod ${m.name} to be ready`, 1000);
  }
  return { kind: 'MarkInstalled' };
}

function steady(w: AppWorld): Step {
  const sts = w.sts;
  if (!w.desired.ok || !sts?.installed) return { kind: 'Steady' };
  const installed = sts.installed;
  const stray = w.execPods.map((p) => p.name);
  const strayJobs = w.copyJobs.map((j) => j.name);
  if (stray.length || strayJobs.length)
    return { kind: 'Cleanup', pods: stray, ...(strayJobs.length ? { jobs: strayJobs } : {}) };
  const prune = prunable(w.copies, w.desired.manifest.spec.upgrade.keepSnapshots);
  if (prune.length) return { kind: 'PruneSnapshots', claims: prune };
  if (sts.upgradeMode || sts.templateHash !== installed.hash) return { kind: 'SwitchTemplate', to: 'normal' };
  const desired = w.desired.manifest;
  const current: AppManifest = { ...desired, spec: installed.spec };
  // `molt rollback` set the spec back to an older version and names it: that downgrade is permitted.
  const rollback =
    w.app.rollbackTo !== undefined &&
    w.app.rollbackTo === desired.spec.version &&
    desired.spec.version !== installed.version;
  let change;
  try {
    change = rollback ? decideRollback(desired, current) : decideChange(desired, current);
  } catch (e) {
    if (e instanceof UpgradeRefusedError) return { kind: 'Refuse', reason: e.code, message: e.message };
    throw e;
  }
  // A change that leaves the pod as it is (settings, or spec.network, which Kubernetes ignores) is only recorded.
  if (change.action === 'record' || (change.action === 'upgrade' && w.desired.hash === installed.hash))
    return { kind: 'Record' };
  if (change.action === 'upgrade') {
    const volumes = volumeChange(installed.spec, desired.spec);
    if (volumes) return { kind: 'Refuse', reason: 'VolumeChangeRefused', message: volumes };
    const last = sts.last;
    if (last && last.toHash === w.desired.hash && last.outcome !== 'Succeeded') {
      return {
        kind: 'Blocked',
        message: `the upgrade to ${desired.spec.version} ${last.outcome === 'RolledBack' ? 'was rolled back' : 'was aborted'} (${last.reason}: ${last.message}); change the spec to try again`,
      };
    }
    return { kind: 'BeginUpgrade', warnings: change.warnings, ...(rollback ? { rollback: true } : {}) };
  }
  if (w.app.rollbackTo !== undefined) return { kind: 'ClearRollbackTo' };
  const notReady = w.members.find((m) => !m.pod || !podReady(m.pod, installed.spec, w.now));
  if (notReady) return wait('MembersNotReady', `pod ${notReady.name} is not ready`, 5000);
  return { kind: 'Steady' };
}

function upgrading(w: AppWorld, j: UpgradeJournal): Step {
  const installed = w.sts?.installed;
  if (w.app.rollbackTo !== undefined && w.app.rollbackTo === j.from && !j.rollback) {
    return {
      kind: 'StartRollback',
      cause: { code: 'RollbackRequested', message: `molt rollback to ${j.from} during the upgrade` },
    };
  }
  if (w.desired.ok && installed && w.desired.hash === installed.hash && j.toHash !== installed.hash) {
    return {
      kind: 'StartRollback',
      cause: { code: 'RollbackRequested', message: `spec set back to ${installed.version} during the upgrade` },
    };
  }
  const budget = readyBudgetMs(j.target, true);
  const touched = w.members.some((m) => m.pod?.hash === j.toHash);
  for (const m of w.members) {
    const pod = m.pod;
    if (!pod || pod.terminating) return wait('Upgrading', `waiting for pod ${m.name} to come back`, 1000);
    if (pod.hash === j.toHash) {
      const failure = podFailure(pod, budget, w.now);
      if (failure) return { kind: 'StartRollback', cause: failure };
      if (scriptsOf(j).postUpgrade && !j.postUpgraded.includes(m.name)) {
        return pod.running
          ? { kind: 'PostUpgrade', member: m.name }
          : wait('Upgrading', `waiting for ${m.name}'s container to start`, 1000);
      }
      if (!podReady(pod, j.target, w.now)) return wait('Upgrading', `waiting for ${m.name} ${j.to} to be ready`, 1000);
      continue;
    }
    return oldMember(w, j, m, pod, touched);
  }
  return { kind: 'FinishUpgrade' };
}

function oldMember(w: AppWorld, j: UpgradeJournal, m: MemberView, pod: PodView, touched: boolean): Step {
  // The member's volumes are copied before anything of the upgrade can touch them.
  if (snapshotsOn(j.target) && j.snapshots?.[m.name] !== 'copied' && !j.preUpgraded.includes(m.name)) {
    const job = copyJob(w, m.name, j.generation, 'snapshot');
    if (job?.failed) {
      const cause = {
        code: 'SnapshotFailed',
        message: `copying the volumes of ${m.name} (Job ${job.name}) failed${job.message ? `: ${job.message}` : ''}`,
      };
      return touched ? { kind: 'StartRollback', cause } : { kind: 'Abort', cause };
    }
    return { kind: 'SnapshotVolumes', member: m.name };
  }
  if (scriptsOf(j).preUpgrade && !j.preUpgraded.includes(m.name)) {
    const exec = w.execPods.find((p) => p.hash === j.toHash && !p.terminating);
    const pull = fatalWaiting(exec?.waitingReason);
    if (exec && pull) {
      const cause = {
        code: pull,
        message: `ExecPod ${exec.name} of ${j.to}: ${exec.waitingReason}${exec.waitingMessage ? `: ${exec.waitingMessage}` : ''}`,
      };
      return touched ? { kind: 'StartRollback', cause } : { kind: 'Abort', cause };
    }
    return { kind: 'PreUpgrade', member: m.name };
  }
  if (w.sts?.templateHash !== j.toHash || !w.sts.upgradeMode) return { kind: 'SwitchTemplate', to: 'target' };
  return { kind: 'RestartMember', member: m.name, uid: pod.uid };
}

function rollingBack(w: AppWorld, j: UpgradeJournal): Step {
  const installed = w.sts?.installed;
  if (!installed) return { kind: 'FinishRollback' };
  if (w.sts?.templateHash !== installed.hash || w.sts.upgradeMode) return { kind: 'SwitchTemplate', to: 'installed' };
  for (const m of w.members) {
    const restore = restoreStep(w, j, m, installed.hash);
    if (restore) return restore;
    const pod = m.pod;
    if (!pod || pod.terminating) return wait('RollingBack', `waiting for pod ${m.name} to come back`, 1000);
    if (pod.hash !== installed.hash) return { kind: 'RestartMember', member: m.name, uid: pod.uid };
    // A ready pod of the installed version is back, also when its container restarted once
    // (e.g. killed by its startup probe on a loaded node): restarts never reset, so checking
    // them first kept such a rollback "stuck" for good.
    if (podReady(pod, installed.spec, w.now)) continue;
    const failure = podFailure(pod, readyBudgetMs(installed.spec, false), w.now);
    if (failure)
      return {
        ...wait('RollbackStuck', `the rollback to ${installed.version} waits: ${failure.message}`, 10_000),
        failure,
      };
    if (!podReady(pod, installed.spec, w.now))
      return wait('RollingBack', `waiting for ${m.name} ${installed.version} to be ready`, 1000);
  }
  void j;
  return { kind: 'FinishRollback' };
}

/**
 * The restore of a member's volumes in a rollback, or undefined when there is none to do (no
 * copy, or a member whose pod never left the installed version: its volumes are live). The
 * member is held down first (StatefulSet at 0 replicas) and its pod must be gone, so the old
 * version never sees half-restored data; released when the copy is back.
 */
function restoreStep(w: AppWorld, j: UpgradeJournal, m: MemberView, installedHash: string): Step | undefined {
  const r = j.restores?.[m.name];
  const replicas = w.sts?.replicas ?? 1;
  if (r === 'restored' || (r === undefined && replicas === 0))
    return replicas === 0 ? { kind: 'ReleaseMember', member: m.name } : undefined;
  if (r === undefined && !(j.snapshots?.[m.name] === 'copied' && m.pod && m.pod.hash !== installedHash))
    return undefined;
  if (r === undefined || replicas > 0) return { kind: 'HoldMember', member: m.name };
  if (m.pod) return wait('RollingBack', `waiting for pod ${m.name} to stop before its volumes are restored`, 1000);
  const job = copyJob(w, m.name, j.generation, 'restore');
  if (job?.failed)
    return wait(
      'RollbackStuck',
      `restoring the volumes of ${m.name} failed (Job ${job.name}${job.message ? `: ${job.message}` : ''}); the member stays down — fix the cause and delete the Job to try again`,
      30_000,
    );
  return { kind: 'RestoreVolumes', member: m.name };
}

/** The app's copy Job of `op` on `member` in upgrade `generation`. */
function copyJob(w: AppWorld, member: string, generation: number, op: CopyJobView['op']): CopyJobView | undefined {
  return w.copyJobs.find((x) => x.member === member && x.generation === generation && x.op === op);
}

/** The copy claims beyond the newest `keep` operations (by generation): what keepSnapshots prunes. */
export function prunable(copies: CopyClaimView[], keep: number): string[] {
  const generations = [...new Set(copies.map((c) => c.generation))].sort((a, b) => b - a);
  const doomed = new Set(generations.slice(keep));
  return copies
    .filter((c) => doomed.has(c.generation))
    .map((c) => c.name)
    .sort();
}

/** The change to an older version `molt rollback` asked for: the downgrade rule does not apply, the others do. */
function decideRollback(desired: AppManifest, current: AppManifest): ReturnType<typeof decideChange> {
  const d = decideChange(permitDowngrade(desired), current);
  return d.action === 'upgrade' ? { ...d, warnings: d.warnings.filter((x) => !isDowngradeWarning(x)) } : d;
}

function wait(reason: Reason, message: string, afterMs: number): Extract<Step, { kind: 'Wait' }> {
  return { kind: 'Wait', reason, message, afterMs };
}
