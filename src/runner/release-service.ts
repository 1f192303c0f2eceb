/**
 * The commands for Releases and the apps that run them: add a release to the catalog, apply
 * a release app (install / rollout / resume / rollback / scale, decided by the core), roll
 * back, pause, delete. Each takes the app's lock; members take their own.
 */
import { AppBusyError, AppNotFoundError, UpgradeRefusedError, type ErrorRecord } from '../core/errors.ts';
import { onMemberFailure } from '../core/policy/index.ts';
import {
  checkMemberNames,
  checkReleaseChange,
  decideReleaseApp,
  MEMBER_LABEL,
  memberName,
  roleOf,
  type InstalledReleaseApp,
  type ReleaseAppDecision,
} from '../core/release.ts';
import type { ReleaseAppManifest, ReleaseManifest } from '../core/release-schema.ts';
import { initialStatus, type ReleaseAppStatus } from '../core/release-status.ts';
import { setCondition } from '../core/status.ts';
import { ReleaseStore, type ReleaseAppRecord } from '../store/release-store.ts';
import { deleteApp } from './app-service.ts';
import type { RunDeps } from './run-operation.ts';
import type { Store } from '../store/store.ts';
import { beginRollout, clusterHook, installMembers, revertMembers, upgradeMembers } from './rollout.ts';
import { killPoint } from '../testing/test-hooks.ts';

/** How applying a release app ended. */
export interface ReleaseAppResult {
  decision: ReleaseAppDecision['action'];
  outcome: 'Unchanged' | 'Succeeded' | 'RolledBack' | 'Paused' | 'Partitioned' | 'Failed';
  error?: ErrorRecord;
}

/** Adds or updates a release in the catalog (seed 003 rules for releases in use). */
export function applyRelease(
  deps: Pick<RunDeps, 'store'>,
  release: ReleaseManifest,
): 'created' | 'configured' | 'unchanged' {
  const rs = deps.store.releases;
  const current = rs.getRelease(release.metadata.name);
  checkReleaseChange(current, release, rs.appsUsing(release.metadata.name));
  if (current && JSON.stringify(current) === JSON.stringify(release)) return 'unchanged';
  rs.saveRelease(release);
  return current ? 'configured' : 'created';
}

/** Creates, upgrades, resumes, rolls back or scales a release app to `manifest`. */
export async function applyReleaseApp(deps: RunDeps, manifest: ReleaseAppManifest): Promise<ReleaseAppResult> {
  const name = manifest.metadata.name;
  const rs = deps.store.releases;
  const target = requireRelease(rs, manifest.spec.release);
  checkMemberNames(manifest);
  manifest.spec.roles.forEach((r) => roleOf(target, r.name));
  return withAppLock(deps, rs, name, async () => {
    const record = rs.getApp(name);
    const installed = record && installedOf(deps.store, rs, record);
    const decision = decideReleaseApp(manifest, installed, target);
    switch (decision.action) {
      case 'none':
        rs.saveApp(manifest, record!.status);
        return { decision: 'none', outcome: 'Unchanged' };
      case 'install':
        return install(deps, manifest, target);
      case 'scale':
        return scale(deps, record!, manifest, target);
      case 'rollout':
        return rollout(deps, manifest, decision.from, decision.to, 'upgrade');
      case 'resume':
        return rollout(
          deps,
          manifest,
          requireRelease(
            rs,
            record!.status.upgradeInfo?.prevRelease ?? record!.status.release ?? manifest.spec.release,
          ),
          decision.to,
          'resume',
        );
      case 'rollback':
        return revert(deps, record!, decision.to);
    }
  });
}

/** `molt rollback` of a release app: undo the rollout in flight, or the last one. */
export async function rollbackReleaseApp(deps: RunDeps, name: string): Promise<ReleaseAppResult> {
  const rs = deps.store.releases;
  const record = rs.getApp(name);
  if (!record) throw new AppNotFoundError(name);
  return withAppLock(deps, rs, name, async () => {
    const current = rs.getApp(name)!;
    const prev =
      current.status.upgradeInfo?.prevRelease ??
      (current.status.lastUpgrade?.outcome === 'Succeeded' ? current.status.lastUpgrade.from : undefined);
    if (!prev)
      throw new UpgradeRefusedError(
        'ChangeRefused',
        `${name} has no previous release to go back to`,
        `See \`molt history ${name}\`.`,
      );
    return revert(deps, current, requireRelease(rs, prev));
  });
}

/**
 * `molt recover` of a release app: continues what a molt that died left in flight — its
 * rollback (back to prevRelease), else its rollout — under the app's lock. Undefined when
 * nothing was in flight (a paused or partitioned rollout is not in flight: `molt resume`).
 */
export async function recoverReleaseApp(
  deps: RunDeps,
  name: string,
): Promise<(ReleaseAppResult & { continued: 'rollout' | 'rollback' }) | undefined> {
  const rs = deps.store.releases;
  const record = rs.getApp(name);
  if (!record) throw new AppNotFoundError(name);
  const { phase, upgradeInfo } = record.status;
  if (phase === 'RollingBack' && upgradeInfo) {
    const result = await withAppLock(deps, rs, name, () =>
      revert(deps, rs.getApp(name)!, requireRelease(rs, upgradeInfo.prevRelease)),
    );
    return { ...result, continued: 'rollback' };
  }
  if (phase === 'Upgrading') return { ...(await applyReleaseApp(deps, record.manifest)), continued: 'rollout' };
  return undefined;
}

/** Asks a running rollout to stop before its next member. */
export function pauseReleaseApp(deps: Pick<RunDeps, 'store'>, name: string, paused: boolean): void {
  const rs = deps.store.releases;
  if (!rs.getApp(name)) throw new AppNotFoundError(name);
  rs.updateStatus(name, (s) => ({ ...s, pauseRequested: paused }));
}

/** Removes every member (volumes kept unless asked) and forgets the app. */
export async function deleteReleaseApp(deps: RunDeps, name: string, withVolumes: boolean): Promise<string[]> {
  const rs = deps.store.releases;
  const record = rs.getApp(name);
  if (!record) throw new AppNotFoundError(name);
  return withAppLock(deps, rs, name, async () => {
    const removed: string[] = [];
    for (const role of record.status.roles) {
      for (const m of role.members)
        if (deps.store.getApp(m.name)) removed.push(...(await deleteApp(deps, m.name, withVolumes)));
    }
    rs.deleteApp(name);
    return removed;
  });
}

async function install(
  deps: RunDeps,
  manifest: ReleaseAppManifest,
  release: ReleaseManifest,
): Promise<ReleaseAppResult> {
  const rs = deps.store.releases;
  const name = manifest.metadata.name;
  const existing = manifest.spec.roles
    .flatMap((r) => Array.from({ length: r.members }, (_, i) => memberName(name, r.name, i)))
    .filter((m) => deps.store.getApp(m) && !deps.store.getApp(m)?.manifest?.metadata.labels[MEMBER_LABEL.owner]);
  if (existing.length > 0)
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `app names ${existing.join(', ')} are taken by other apps`,
      'Choose another app name.',
    );
  rs.saveApp(manifest, rs.getApp(name)?.status ?? initialStatus(manifest.spec.roles, name, memberName));
  const r = beginRollout(deps, manifest, 'install', undefined, release.metadata.name);
  await installMembers(r, release);
  const ok = !r.failure;
  finish(
    rs,
    r.id,
    manifest,
    ok ? 'Succeeded' : 'Failed',
    (s) => ({
      ...s,
      phase: ok ? 'Running' : 'Failed',
      state: ok ? 'configured' : 'creating',
      release: release.metadata.name,
    }),
    r.failure,
    undefined,
    release.metadata.name,
  );
  return { decision: 'install', outcome: ok ? 'Succeeded' : 'Failed', ...(r.failure ? { error: r.failure } : {}) };
}

async function rollout(
  deps: RunDeps,
  manifest: ReleaseAppManifest,
  from: ReleaseManifest,
  to: ReleaseManifest,
  kind: 'upgrade' | 'resume',
): Promise<ReleaseAppResult> {
  const rs = deps.store.releases;
  const name = manifest.metadata.name;
  killPoint('BeginRollout', 'before');
  rs.saveApp(
    manifest,
    rs.updateStatus(name, (s) => ({
      ...s,
      phase: 'Upgrading',
      state: 'updating',
      release: from.metadata.name,
      upgradeInfo: { isRollingBack: false, prevRelease: from.metadata.name },
      pauseRequested: false,
    })),
  );
  deps.log(
    `${kind === 'resume' ? 'continuing the rollout of' : 'rolling out'} ${to.metadata.name} to ${name} (from ${from.metadata.name})`,
  );
  const r = beginRollout(deps, manifest, kind, from.metadata.name, to.metadata.name);
  killPoint('BeginRollout', 'after');
  const complete = await upgradeMembers(r, from, to);
  if (r.failure) {
    if (onMemberFailure(manifest.spec.upgradeStrategy) === 'pause') {
      finish(
        rs,
        r.id,
        manifest,
        'Paused',
        (s) => ({ ...s, phase: 'Paused' }),
        r.failure,
        from.metadata.name,
        to.metadata.name,
      );
      return { decision: 'rollout', outcome: 'Paused', error: r.failure };
    }
    const failure = r.failure;
    deps.log(`rolling ${name} back to ${from.metadata.name} after: ${failure.message}`);
    await revertWith(deps, r, manifest, to, from);
    finish(
      rs,
      r.id,
      { ...manifest, spec: { ...manifest.spec, release: from.metadata.name } },
      'RolledBack',
      (s) => steady(s, from),
      failure,
      from.metadata.name,
      to.metadata.name,
    );
    return { decision: 'rollout', outcome: 'RolledBack', error: failure };
  }
  if (!complete) {
    const paused = rs.getApp(name)?.status.pauseRequested === true;
    finish(
      rs,
      r.id,
      manifest,
      paused ? 'Paused' : 'Partitioned',
      (s) => ({ ...s, phase: paused ? 'Paused' : 'Running' }),
      undefined,
      from.metadata.name,
      to.metadata.name,
    );
    return { decision: 'rollout', outcome: paused ? 'Paused' : 'Partitioned' };
  }
  await clusterHook(r, to, '--cluster_upgraded');
  finish(rs, r.id, manifest, 'Succeeded', (s) => steady(s, to), undefined, from.metadata.name, to.metadata.name);
  return { decision: 'rollout', outcome: 'Succeeded' };
}

async function revert(deps: RunDeps, record: ReleaseAppRecord, prev: ReleaseManifest): Promise<ReleaseAppResult> {
  const rs = deps.store.releases;
  const to = requireRelease(rs, record.manifest.spec.release);
  const r = beginRollout(deps, record.manifest, 'rollback', to.metadata.name, prev.metadata.name);
  await revertWith(deps, r, record.manifest, to, prev);
  const back = { ...record.manifest, spec: { ...record.manifest.spec, release: prev.metadata.name } };
  const ok = !r.failure;
  finish(
    rs,
    r.id,
    back,
    ok ? 'RolledBack' : 'Failed',
    (s) => (ok ? steady(s, prev) : { ...s, phase: 'Failed' }),
    r.failure,
    to.metadata.name,
    prev.metadata.name,
  );
  return { decision: 'rollback', outcome: ok ? 'RolledBack' : 'Failed', ...(r.failure ? { error: r.failure } : {}) };
}

async function revertWith(
  deps: RunDeps,
  r: ReturnType<typeof beginRollout>,
  manifest: ReleaseAppManifest,
  to: ReleaseManifest,
  prev: ReleaseManifest,
): Promise<void> {
  const rs = deps.store.releases;
  killPoint('BeginRevert', 'before');
  rs.updateStatus(manifest.metadata.name, (s) => ({
    ...s,
    phase: 'RollingBack',
    state: 'updating',
    upgradeInfo: { isRollingBack: true, prevRelease: prev.metadata.name },
  }));
  killPoint('BeginRevert', 'after');
  // From here on `failure` means a member that could not be reverted.
  r.failure = undefined;
  await revertMembers(r, to, prev);
  if (!r.failure) await clusterHook(r, prev, '--cluster_reverted');
}

async function scale(
  deps: RunDeps,
  record: ReleaseAppRecord,
  manifest: ReleaseAppManifest,
  release: ReleaseManifest,
): Promise<ReleaseAppResult> {
  const rs = deps.store.releases;
  const name = manifest.metadata.name;
  for (const role of record.manifest.spec.roles) {
    const wanted = manifest.spec.roles.find((r) => r.name === role.name)?.members ?? 0;
    for (let ordinal = role.members - 1; ordinal >= wanted; ordinal--)
      await deleteApp(deps, memberName(name, role.name, ordinal), false);
  }
  const fresh = initialStatus(manifest.spec.roles, name, memberName);
  rs.saveApp(manifest, {
    ...record.status,
    roles: fresh.roles.map((r) => ({
      ...r,
      members: r.members.map(
        (m) => record.status.roles.find((x) => x.name === r.name)?.members.find((x) => x.ordinal === m.ordinal) ?? m,
      ),
    })),
  });
  const r = beginRollout(deps, manifest, 'scale', release.metadata.name, release.metadata.name);
  await installMembers(r, release);
  finish(
    rs,
    r.id,
    manifest,
    r.failure ? 'Failed' : 'Succeeded',
    (s) => ({ ...s, phase: r.failure ? 'Failed' : 'Running' }),
    r.failure,
    release.metadata.name,
    release.metadata.name,
  );
  return { decision: 'scale', outcome: r.failure ? 'Failed' : 'Succeeded', ...(r.failure ? { error: r.failure } : {}) };
}

/** The steady state on `release`: configured, no upgrade info. */
function steady(s: ReleaseAppStatus, release: ReleaseManifest): ReleaseAppStatus {
  const { upgradeInfo: _gone, ...rest } = s;
  return { ...rest, phase: 'Running', state: 'configured', release: release.metadata.name, pauseRequested: false };
}

function finish(
  rs: ReleaseStore,
  rollout: number,
  manifest: ReleaseAppManifest,
  outcome: Exclude<NonNullable<ReleaseAppStatus['lastUpgrade']>['outcome'], 'InProgress'>,
  change: (s: ReleaseAppStatus) => ReleaseAppStatus,
  error: ErrorRecord | undefined,
  from: string | undefined,
  to: string,
): void {
  const step = outcome === 'RolledBack' ? 'FinishRevert' : 'FinishRollout';
  killPoint(step, 'before');
  rs.finishRollout(rollout, outcome);
  const now = new Date().toISOString();
  const status = rs.updateStatus(manifest.metadata.name, (s) => {
    const next = change(s);
    const progressing = setCondition(
      next.conditions,
      {
        type: 'Progressing',
        status: outcome === 'Partitioned' || outcome === 'Paused' ? 'True' : 'False',
        reason: outcome,
        message: error ? `${error.code}: ${error.message}` : `${outcome}: ${from ?? '∅'} → ${to}`,
      },
      now,
    );
    const ready = setCondition(
      progressing,
      {
        type: 'Ready',
        status: next.phase === 'Running' ? 'True' : 'False',
        reason: next.phase,
        message: `release ${next.release ?? to}`,
      },
      now,
    );
    return {
      ...next,
      conditions: ready,
      lastUpgrade: {
        rollout,
        ...(from ? { from } : {}),
        to,
        outcome,
        ...(error ? { error } : {}),
        startedAt: next.lastUpgrade?.rollout === rollout ? next.lastUpgrade.startedAt : now,
        finishedAt: now,
      },
    };
  });
  rs.saveApp(manifest, status);
  killPoint(step, 'after');
}

/**
 * The installed side of a release app as the core's decision needs it, read from the store. A
 * rollback the record calls running counts only while another live process holds the app's
 * lock: otherwise a molt that died left it, and applying the previous release continues it.
 */
export function installedOf(store: Store, rs: ReleaseStore, record: ReleaseAppRecord): InstalledReleaseApp {
  const release = requireRelease(rs, record.status.release ?? record.manifest.spec.release);
  const target = record.manifest.spec.release;
  const behind = record.manifest.spec.roles.reduce(
    (n, r) =>
      n +
      Array.from({ length: r.members }, (_, i) => memberName(record.name, r.name, i)).filter(
        (m) => store.getApp(m)?.manifest?.metadata.labels[MEMBER_LABEL.release] !== target,
      ).length,
    0,
  );
  return {
    manifest: record.manifest,
    release,
    updating: record.status.state === 'updating',
    isRollingBack: record.status.upgradeInfo?.isRollingBack === true && store.lockHolder(record.name) !== undefined,
    prevRelease: record.status.upgradeInfo?.prevRelease,
    membersBehind: behind,
  };
}

/** The release from the catalog, or a refusal that says how to add it. */
export function requireRelease(rs: ReleaseStore, name: string): ReleaseManifest {
  const release = rs.getRelease(name);
  if (!release)
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `release "${name}" is not in the catalog`,
      `Add it with \`molt apply -f RELEASE.yaml\`; \`molt get releases\` lists the catalog.`,
    );
  return release;
}

async function withAppLock<T>(deps: RunDeps, rs: ReleaseStore, name: string, fn: () => Promise<T>): Promise<T> {
  try {
    deps.store.lock(name, `molt apply ${name}`);
  } catch (e) {
    if (e instanceof AppBusyError && rs.getApp(name)?.status.upgradeInfo?.isRollingBack) {
      throw new UpgradeRefusedError(
        'ChangeRefused',
        `a rollback of ${name} is already running: ${e.message.replace(/^app "[^"]+" is busy: /, '')}`,
        'Wait for it to finish; `molt get app ' + name + '` shows its progress.',
      );
    }
    throw e;
  }
  try {
    return await fn();
  } finally {
    deps.store.unlock(name);
  }
}
