/**
 * Executing release-app changes (seed 003): install members, roll a new release out — roles in
 * parallel, members one at a time (or maxUnavailable at a time) from the highest ordinal down,
 * each with the full single-member procedure — call the lifecycle hooks, and revert exactly
 * the members already touched. Every member change is recorded in the app's status before it
 * starts, and every step in the rollout's event log.
 */
import { MemberFailedError, MoltError, toErrorRecord, type ErrorRecord } from '../core/errors.ts';
import type { AppManifest } from '../core/model.ts';
import { MEMBER_LABEL, memberManifest, memberName, roleOf, rolloutOrder } from '../core/release.ts';
import type { ReleaseAppManifest, ReleaseManifest } from '../core/release-schema.ts';
import { withMember, type ReleaseAppStatus, type UpgradeStatus } from '../core/release-status.ts';
import type { RolloutStep } from '../core/step-boundaries.ts';
import { compareVersionStrings } from '../core/version.ts';
import { ReleaseStore, type RolloutRecord } from '../store/release-store.ts';
import { applyApp, recoverApp } from './app-service.ts';
import type { RunDeps } from './run-operation.ts';
import { killPoint } from '../testing/test-hooks.ts';

/** One rollout in progress: its deps, ids and the first failure seen. */
interface Rollout {
  deps: RunDeps;
  rs: ReleaseStore;
  app: ReleaseAppManifest;
  id: number;
  failure?: ErrorRecord;
  /** Events of the rollouts a dead molt left open, just before this one: hooks they already called. */
  prior: RolloutRecord['events'];
}

/** Starts a rollout record and returns its context. */
export function beginRollout(
  deps: RunDeps,
  app: ReleaseAppManifest,
  kind: string,
  from: string | undefined,
  to: string,
): Rollout {
  const rs = deps.store.releases;
  // We hold the app's lock: a rollout still open was cut short by a molt that died.
  for (const open of rs.listRollouts(app.metadata.name).filter((x) => x.outcome === undefined))
    rs.finishRollout(open.id, 'Interrupted');
  const all = rs.listRollouts(app.metadata.name);
  let first = all.length;
  while (first > 0 && all[first - 1]?.outcome === 'Interrupted') first--;
  const prior = all.slice(first).flatMap((x) => x.events);
  return { deps, rs, app, id: rs.startRollout(app.metadata.name, kind, from, to), prior };
}

/** Installs or converges every member onto `release`, roles in parallel, ordinals ascending. */
export async function installMembers(r: Rollout, release: ReleaseManifest): Promise<void> {
  await Promise.all(
    r.app.spec.roles.map(async (role) => {
      for (let ordinal = 0; ordinal < role.members; ordinal++) {
        if (r.failure) return;
        await changeMember(r, release, role.name, ordinal, { before: '', after: '', event: 'member-installed' });
      }
    }),
  );
}

/**
 * Replaces members onto `to`: per role from the highest ordinal down to the partition; stops
 * starting members after the first failure or a pause request. Returns true when every role
 * finished all its members (hooks role_upgraded were called).
 */
export async function upgradeMembers(r: Rollout, to: ReleaseManifest): Promise<boolean> {
  const { partition, maxUnavailable } = r.app.spec.upgradeStrategy;
  const finished = await Promise.all(
    r.app.spec.roles.map(async (role) => {
      const order = rolloutOrder(role.members, partition);
      for (let i = 0; i < order.length; i += maxUnavailable) {
        if (r.failure || pauseRequested(r)) return false;
        await Promise.all(
          order.slice(i, i + maxUnavailable).map((ordinal) =>
            changeMember(r, to, role.name, ordinal, {
              before: 'upgrading',
              after: 'upgraded',
              event: 'member-upgraded',
              hook: '--pod_upgraded',
            }),
          ),
        );
      }
      if (r.failure || partition > 0) return false;
      await roleHook(r, to, role.name, '--role_upgraded');
      return true;
    }),
  );
  return finished.every(Boolean);
}

/**
 * Reverts every member that is on `to` back to `prev` (data kept, no scripts), roles in
 * parallel. A member whose own operation a dead molt left in flight is first finished or
 * rolled back from its journal, so `touched` is read from whole members only.
 */
export async function revertMembers(r: Rollout, to: ReleaseManifest, prev: ReleaseManifest): Promise<void> {
  await Promise.all(
    r.app.spec.roles.map(async (role) => {
      await recoverMembers(r, role.name, role.members);
      // Touched: members still on `to`, and those a dead molt was reverting (their hook may be owed).
      const reverting = Array.from({ length: role.members }, (_, i) => i).filter(
        (i) => memberStatus(r, role.name, i) === 'rollingBack',
      );
      const touched = [...new Set([...membersOn(r, role.name, role.members, to), ...reverting])];
      for (const ordinal of touched.sort((a, b) => a - b)) {
        await changeMember(r, prev, role.name, ordinal, {
          before: 'rollingBack',
          after: 'rolledBack',
          event: 'member-reverted',
          hook: '--pod_reverted',
          revert: true,
        });
      }
      const revertedBefore = r.prior.some((e) => e.event === 'member-reverted' && e.role === role.name);
      if (touched.length > 0 || revertedBefore) await roleHook(r, prev, role.name, '--role_reverted');
    }),
  );
}

/** Calls the lifecycle script of every member with `flag` (cluster_upgraded / cluster_reverted). */
export async function clusterHook(r: Rollout, release: ReleaseManifest, flag: string): Promise<void> {
  killPoint(HOOK_STEPS[flag] ?? flag, 'before');
  await Promise.all(r.app.spec.roles.map((role) => callHooks(r, release, role.name, flag)));
  killPoint(HOOK_STEPS[flag] ?? flag, 'after');
}

/** The rollout step (core/step-boundaries.ts) of each lifecycle flag. */
const HOOK_STEPS: Record<string, RolloutStep> = {
  '--pod_upgraded': 'PodUpgradedHook',
  '--role_upgraded': 'RoleUpgradedHook',
  '--cluster_upgraded': 'ClusterUpgradedHook',
  '--pod_reverted': 'PodRevertedHook',
  '--role_reverted': 'RoleRevertedHook',
  '--cluster_reverted': 'ClusterRevertedHook',
};

/** Finishes or rolls back the in-flight operation of any member of the role (a molt died mid-member). */
async function recoverMembers(r: Rollout, role: string, members: number): Promise<void> {
  for (let ordinal = 0; ordinal < members; ordinal++) {
    const name = memberName(r.app.metadata.name, role, ordinal);
    if (!r.deps.store.inFlightOperation(name)) continue;
    try {
      await recoverApp(r.deps, name);
    } catch (e) {
      const cause = toErrorRecord(e);
      r.failure ??= { ...cause, message: `${name}: ${cause.message}` };
    }
  }
}

interface MemberChange {
  before: UpgradeStatus;
  after: UpgradeStatus;
  event: string;
  hook?: string;
  revert?: boolean;
}

/**
 * Moves one member onto `release` through the single-member procedure, then calls its hook.
 * A member already on `release` is left alone — unless its status still says `c.before`: then
 * a molt died after moving it but before its hook was confirmed, and the hook is called now.
 * Hooks are called at least once: twice only when molt dies while that hook runs (its `call`
 * event journaled, its `hook` event not).
 */
async function changeMember(
  r: Rollout,
  release: ReleaseManifest,
  role: string,
  ordinal: number,
  c: MemberChange,
): Promise<void> {
  // A revert goes back as a rollback (applyApp's 'revert' trigger), so the member's recorded spec stays the release's own.
  const manifest: AppManifest = memberManifest(r.app, release, roleOf(release, role), ordinal);
  const name = manifest.metadata.name;
  const moved = memberVersion(r, name) === release.spec.version && memberRelease(r, name) === release.metadata.name;
  const hookOwed = moved && c.hook !== undefined && c.before !== '' && memberStatus(r, role, ordinal) === c.before;
  if (moved && !hookOwed) {
    setMember(r, role, ordinal, { upgradeStatus: c.after || memberStatus(r, role, ordinal), ...memberFacts(r, name) });
    return;
  }
  const step: RolloutStep = c.revert ? 'RevertMember' : 'UpgradeMember';
  if (!moved) {
    setMember(r, role, ordinal, { upgradeStatus: c.before });
    r.rs.event(r.id, `${c.event.replace(/-\w+$/, '')}-started`, `${name} → ${release.spec.version}`, role, name);
    r.deps.log(`[${role} ${ordinal}] ${name} → ${release.metadata.name}`);
  }
  try {
    if (!moved) {
      killPoint(step, 'before');
      const result = await applyApp(r.deps, manifest, c.revert ? 'revert' : 'apply');
      const state = result.operation?.state;
      if (state && state.phase !== 'Succeeded') {
        const cause = 'cause' in state ? state.cause : { code: 'Failed', message: `ended ${state.phase}` };
        throw new MemberFailedError(cause);
      }
      killPoint(step, 'after');
    }
    if (c.hook) await podHook(r, release, role, name, c.hook);
    setMember(r, role, ordinal, { upgradeStatus: c.after, ...memberFacts(r, name) });
    r.rs.event(r.id, c.event, `${name} now runs ${release.spec.version}`, role, name);
  } catch (e) {
    const cause = e instanceof MemberFailedError ? e.record : toErrorRecord(e);
    r.failure ??= { ...cause, message: `${name}: ${cause.message}` };
    setMember(r, role, ordinal, { upgradeStatus: 'failed', ...memberFacts(r, name) });
    r.rs.event(r.id, 'member-failed', `${name}: ${cause.code}: ${cause.message}`, role, name);
    if (!(e instanceof MoltError)) throw e;
  }
}

/** One member's pod hook, between its two kill points. */
async function podHook(
  r: Rollout,
  release: ReleaseManifest,
  role: string,
  member: string,
  flag: string,
): Promise<void> {
  killPoint(HOOK_STEPS[flag] ?? flag, 'before');
  await memberHook(r, release, role, member, flag);
  killPoint(HOOK_STEPS[flag] ?? flag, 'after');
}

/** Calls one member's lifecycle script with `flag`; a failure fails the member. */
async function memberHook(
  r: Rollout,
  release: ReleaseManifest,
  role: string,
  member: string,
  flag: string,
): Promise<void> {
  const script = roleOf(release, role).lifecycle;
  if (!script) return;
  if (calledBefore(r, role, member, flag)) {
    r.rs.event(
      r.id,
      `hook${flag.replace('--', ' ')} skipped`,
      `${member}: ${script} ${flag} was already called by the interrupted rollout`,
      role,
      member,
    );
    return;
  }
  const id = r.deps.store.getApp(member)?.status.containerId ?? member;
  // Journaled first: a hook started but never recorded is one a dead molt may have run (re-run calls it again).
  r.rs.event(r.id, `call${flag.replace('--', ' ')}`, `${member}: ${script} ${flag}`, role, member);
  const res = await r.deps.engine.exec(id, [script, flag]);
  r.rs.event(
    r.id,
    `hook${flag.replace('--', ' ')}`,
    `${member}: ${script} ${flag} exited ${res.exitCode}`,
    role,
    member,
  );
  if (res.exitCode !== 0)
    throw new MemberFailedError(
      { code: 'HookFailed', message: `${member}: lifecycle ${flag} exited ${res.exitCode}` },
      `lifecycle ${script} ${flag} exited ${res.exitCode}: ${res.stderr.trim().slice(-300)}`,
    );
}

/** The role hook of `role`, between its two kill points. */
async function roleHook(r: Rollout, release: ReleaseManifest, role: string, flag: string): Promise<void> {
  killPoint(HOOK_STEPS[flag] ?? flag, 'before');
  await callHooks(r, release, role, flag);
  killPoint(HOOK_STEPS[flag] ?? flag, 'after');
}

/**
 * Calls the lifecycle script with `flag` on every member of a role, all at once (the role or
 * cluster is already changed when these run, so a failure is recorded, not fatal).
 */
async function callHooks(r: Rollout, release: ReleaseManifest, role: string, flag: string): Promise<void> {
  const spec = r.app.spec.roles.find((x) => x.name === role);
  await Promise.all(
    Array.from({ length: spec?.members ?? 0 }, (_, ordinal) => {
      const name = `${r.app.metadata.name}-${role}-${ordinal}`;
      return memberHook(r, release, role, name, flag).catch((e: unknown) =>
        r.rs.event(r.id, 'hook-failed', `${name}: ${(e as Error).message}`, role, name),
      );
    }),
  );
}

/**
 * True when an interrupted rollout just before this one already called `flag` on `member`
 * successfully and nothing in the hook's scope (the member, its role, or the whole app) started
 * changing after that: so a re-run calls every hook once.
 */
function calledBefore(r: Rollout, role: string, member: string, flag: string): boolean {
  const at = r.prior.findLastIndex(
    (e) => e.event === `hook${flag.replace('--', ' ')}` && e.member === member && / exited 0$/.test(e.message),
  );
  if (at < 0) return false;
  const inScope = (e: RolloutRecord['events'][number]): boolean =>
    flag.startsWith('--pod_') ? e.member === member : flag.startsWith('--role_') ? e.role === role : true;
  return !r.prior.slice(at + 1).some((e) => e.event.endsWith('-started') && inScope(e));
}

function membersOn(r: Rollout, role: string, members: number, release: ReleaseManifest): number[] {
  return Array.from({ length: members }, (_, i) => i).filter(
    (i) => memberRelease(r, `${r.app.metadata.name}-${role}-${i}`) === release.metadata.name,
  );
}

function memberVersion(r: Rollout, name: string): string | undefined {
  return r.deps.store.getApp(name)?.manifest?.spec.version;
}

function memberRelease(r: Rollout, name: string): string | undefined {
  return r.deps.store.getApp(name)?.manifest?.metadata.labels[MEMBER_LABEL.release];
}

function memberFacts(
  r: Rollout,
  name: string,
): { version?: string; ip?: string; container?: string; release?: string } {
  const rec = r.deps.store.getApp(name);
  return {
    version: rec?.manifest?.spec.version,
    ip: rec?.status.ip,
    container: rec?.status.containerId,
    release: rec?.manifest?.metadata.labels[MEMBER_LABEL.release],
  };
}

function memberStatus(r: Rollout, role: string, ordinal: number): UpgradeStatus {
  return (
    r.rs
      .getApp(r.app.metadata.name)
      ?.status.roles.find((x) => x.name === role)
      ?.members.find((m) => m.ordinal === ordinal)?.upgradeStatus ?? ''
  );
}

function setMember(r: Rollout, role: string, ordinal: number, change: Parameters<typeof withMember>[3]): void {
  r.rs.updateStatus(r.app.metadata.name, (s: ReleaseAppStatus) => withMember(s, role, ordinal, change));
}

function pauseRequested(r: Rollout): boolean {
  return r.rs.getApp(r.app.metadata.name)?.status.pauseRequested === true;
}

/** True when `a` is a newer release version than `b`. */
export function isNewer(a: ReleaseManifest, b: ReleaseManifest): boolean {
  return compareVersionStrings(a.spec.version, b.spec.version) > 0;
}
