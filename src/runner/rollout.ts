/**
 * Executing release-app changes locally (seed 003): install members, roll a new release out —
 * roles in parallel, members from the highest ordinal down, up to maxUnavailable at a time,
 * each through the full single-member procedure — and revert exactly the members touched.
 * A rollout is one loop per role: observe its members (the store) → the core decides the next
 * action (core/release-rollout.ts, the rule the operator follows too) → journal it (the
 * member's status and the rollout's event log) → act (the member's own procedure, a hook) →
 * record the outcome. Hooks: rollout-hooks.ts.
 */
import { MemberFailedError, MoltError, toErrorRecord, type ErrorRecord } from '../core/errors.ts';
import type { FailureCode } from '../core/policy/index.ts';
import { MEMBER_LABEL, memberManifest, memberName, roleOf, rolloutOrder } from '../core/release.ts';
import {
  nextRolloutAction,
  type RoleRolloutAction,
  type RoleRolloutView,
  type RolloutMember,
} from '../core/release-rollout.ts';
import type { ReleaseAppManifest, ReleaseManifest } from '../core/release-schema.ts';
import { withMember, type ReleaseAppStatus, type UpgradeStatus } from '../core/release-status.ts';
import { compareVersionStrings } from '../core/version.ts';
import { applyApp, recoverApp } from './app-service.ts';
import { podHook, roleHook, type Rollout } from './rollout-hooks.ts';
import type { RunDeps } from './run-operation.ts';
import { killPoint } from '../testing/test-hooks.ts';

export { clusterHook, type Rollout } from './rollout-hooks.ts';

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
        await installMember(r, release, role.name, ordinal);
      }
    }),
  );
}

/** Creates or converges one member through the single-member procedure; a member already on `release` is kept. */
async function installMember(r: Rollout, release: ReleaseManifest, role: string, ordinal: number): Promise<void> {
  const manifest = memberManifest(r.app, release, roleOf(release, role), ordinal);
  const name = manifest.metadata.name;
  if (runs(r, name, release)) {
    setMember(r, role, ordinal, { upgradeStatus: memberStatus(r, role, ordinal), ...memberFacts(r, name) });
    return;
  }
  setMember(r, role, ordinal, { upgradeStatus: '' });
  r.rs.event(r.id, 'member-started', `${name} → ${release.spec.version}`, role, name);
  r.deps.log(`[${role} ${ordinal}] ${name} → ${release.metadata.name}`);
  try {
    await applyMember(r, manifest, 'UpgradeMember');
    setMember(r, role, ordinal, { upgradeStatus: '', ...memberFacts(r, name) });
    r.rs.event(r.id, 'member-installed', `${name} now runs ${release.spec.version}`, role, name);
  } catch (e) {
    memberFailed(r, role, ordinal, name, e);
  }
}

/** One role's rollout as this process drives it: its direction and what it did so far. */
interface RoleRun {
  role: string;
  members: number;
  state: 'Upgrading' | 'RollingBack';
  /** Where the rollout started (going back: where the members return to). */
  from: ReleaseManifest;
  /** The release rolled out. */
  to: ReleaseManifest;
  /** Going back: the members to revert, fixed when the revert began. */
  touched: number[];
  /** Members whose procedure runs now. */
  inFlight: Map<number, Promise<void>>;
  /** Members whose replacement or hook failed in this run, with the cause. */
  failed: Map<number, ErrorRecord>;
  roleHooked: boolean;
}

/**
 * Replaces members onto `to`: per role from the highest ordinal down to the partition; starts
 * no member after the first failure or a pause request. Returns true when every role finished
 * all its members (hooks role_upgraded were called).
 */
export async function upgradeMembers(r: Rollout, from: ReleaseManifest, to: ReleaseManifest): Promise<boolean> {
  const done = await Promise.all(
    r.app.spec.roles.map((role) => {
      recordSettled(r, role.name, role.members, to);
      return driveRole(r, roleRun('Upgrading', role.name, role.members, from, to, []));
    }),
  );
  return done.every(Boolean);
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
      const all = Array.from({ length: role.members }, (_, i) => i);
      // Touched: members still on `to`, those a dead molt was reverting (their hook may be owed),
      // and those an interrupted revert already took back (the role hook is owed for them).
      const name = (i: number) => memberName(r.app.metadata.name, role.name, i);
      const touched = all.filter(
        (i) =>
          memberRelease(r, name(i)) === to.metadata.name ||
          memberStatus(r, role.name, i) === 'rollingBack' ||
          r.prior.some((e) => e.event === 'member-reverted' && e.role === role.name && e.member === name(i)),
      );
      await driveRole(r, roleRun('RollingBack', role.name, role.members, prev, to, touched));
    }),
  );
}

function roleRun(
  state: RoleRun['state'],
  role: string,
  members: number,
  from: ReleaseManifest,
  to: ReleaseManifest,
  touched: number[],
): RoleRun {
  return { role, members, state, from, to, touched, inFlight: new Map(), failed: new Map(), roleHooked: false };
}

/**
 * The loop of one role: observe → decide (the core) → act, until the core says Done or there
 * is nothing left to wait for. True when the role finished (its role hook called).
 */
async function driveRole(r: Rollout, run: RoleRun): Promise<boolean> {
  // Each action moves a member, a hook or the role on: more passes than that is a bug, not a wait.
  for (let pass = 0; pass < 6 * run.members + 8; pass++) {
    const action = nextRolloutAction(observe(r, run));
    switch (action.kind) {
      case 'Replace': {
        const p = replaceMember(r, run, action.ordinal).finally(() => run.inFlight.delete(action.ordinal));
        p.catch(() => undefined);
        run.inFlight.set(action.ordinal, p);
        break;
      }
      case 'MemberHook':
        await memberHook(r, run, action);
        break;
      case 'RoleHook':
        // Locally a partitioned rollout is not over, and after a failure elsewhere this one goes back: no role hook.
        if (run.state === 'Upgrading' && (r.failure || r.app.spec.upgradeStrategy.partition > 0))
          return settle(run, false);
        await roleHook(r, releaseOf(run), run.role, action.flag);
        run.roleHooked = true;
        break;
      case 'Wait':
        if (run.inFlight.size === 0) return false;
        await Promise.race(run.inFlight.values());
        break;
      case 'Fail':
        return settle(run, false);
      case 'Done':
        return settle(run, true);
      case 'SetTarget':
        // Local members have no template: the core asks for one only of an engine that has it.
        throw new MemberFailedError({ code: 'Internal', message: `${run.role}: unexpected ${action.kind}` });
    }
  }
  await settle(run, false);
  throw new MemberFailedError({ code: 'Internal', message: `${run.role}: the rollout did not settle` });
}

/** Waits for the members still in flight, then ends the role's loop with `done`. */
async function settle(run: RoleRun, done: boolean): Promise<boolean> {
  await Promise.all(run.inFlight.values());
  return done;
}

/** The release a role's actions move members to. */
function releaseOf(run: RoleRun): ReleaseManifest {
  return run.state === 'Upgrading' ? run.to : run.from;
}

/**
 * The role as the core sees it, read from the store: each member on the release its record
 * names, busy while its procedure runs here (it is ready once that procedure ends: the
 * procedure waited for it), failed when its replacement or hook failed in this run. The
 * journal: touched are the members whose status says a change began (`upgrading`); going
 * back, the members fixed at the start, reverted once on `from` with their hook confirmed.
 */
function observe(r: Rollout, run: RoleRun): RoleRolloutView {
  const up = run.state === 'Upgrading';
  const current = new Map<number, RolloutMember>();
  const touched: number[] = up ? [] : [...run.touched];
  const reverted: number[] = [];
  for (let ordinal = 0; ordinal < run.members; ordinal++) {
    const name = memberName(r.app.metadata.name, run.role, ordinal);
    const status = memberStatus(r, run.role, ordinal);
    const release = runs(r, name, run.to)
      ? run.to.metadata.name
      : runs(r, name, run.from)
        ? run.from.metadata.name
        : (memberRelease(r, name) ?? '');
    const busy = run.inFlight.has(ordinal);
    const failed = run.failed.get(ordinal);
    const failure = failed && { reason: failed.code as FailureCode, message: failed.message };
    current.set(ordinal, { ordinal, name, release, busy, ready: !busy, ...(failure ? { failure } : {}) });
    if (up && (status === 'upgrading' || busy || failed)) touched.push(ordinal);
    if (!up && release === run.from.metadata.name && status !== 'rollingBack') reverted.push(ordinal);
  }
  const strategy = r.app.spec.upgradeStrategy;
  return {
    name: run.role,
    members: run.members,
    journal: {
      state: run.state,
      from: run.from.metadata.name,
      to: run.to.metadata.name,
      touched,
      hooked: [],
      reverted,
      roleHooked: run.roleHooked,
    },
    current,
    partition: up ? strategy.partition : 0,
    maxUnavailable: strategy.maxUnavailable,
    pauseRequested: up && (r.failure !== undefined || pauseRequested(r)),
  };
}

/**
 * Members already on `to` when an upgrade (re)starts, with no change of theirs pending: their
 * status says so (a partitioned or interrupted rollout moved them).
 */
function recordSettled(r: Rollout, role: string, members: number, to: ReleaseManifest): void {
  for (const ordinal of rolloutOrder(members, r.app.spec.upgradeStrategy.partition)) {
    const name = memberName(r.app.metadata.name, role, ordinal);
    if (runs(r, name, to) && memberStatus(r, role, ordinal) !== 'upgrading')
      setMember(r, role, ordinal, { upgradeStatus: 'upgraded', ...memberFacts(r, name) });
  }
}

/** Replace: journaled (status, event) before the member's own procedure moves it. */
async function replaceMember(r: Rollout, run: RoleRun, ordinal: number): Promise<void> {
  const up = run.state === 'Upgrading';
  const release = releaseOf(run);
  // A revert goes back as a rollback (applyApp's 'revert' trigger), so the member's recorded spec stays the release's own.
  const manifest = memberManifest(r.app, release, roleOf(release, run.role), ordinal);
  const name = manifest.metadata.name;
  setMember(r, run.role, ordinal, { upgradeStatus: up ? 'upgrading' : 'rollingBack' });
  r.rs.event(r.id, 'member-started', `${name} → ${release.spec.version}`, run.role, name);
  r.deps.log(`[${run.role} ${ordinal}] ${name} → ${release.metadata.name}`);
  try {
    await applyMember(r, manifest, up ? 'UpgradeMember' : 'RevertMember');
  } catch (e) {
    run.failed.set(ordinal, memberFailed(r, run.role, ordinal, name, e));
  }
}

/** A member's hook once it is on the release, then its status: upgraded or rolled back. */
async function memberHook(
  r: Rollout,
  run: RoleRun,
  a: Extract<RoleRolloutAction, { kind: 'MemberHook' }>,
): Promise<void> {
  const up = run.state === 'Upgrading';
  const release = releaseOf(run);
  try {
    await podHook(r, release, run.role, a.member, a.flag);
  } catch (e) {
    run.failed.set(a.ordinal, memberFailed(r, run.role, a.ordinal, a.member, e));
    return;
  }
  setMember(r, run.role, a.ordinal, { upgradeStatus: up ? 'upgraded' : 'rolledBack', ...memberFacts(r, a.member) });
  r.rs.event(
    r.id,
    up ? 'member-upgraded' : 'member-reverted',
    `${a.member} now runs ${release.spec.version}`,
    run.role,
    a.member,
  );
}

/** The member's own single-member procedure, between the step's two kill points; a failed one throws. */
async function applyMember(
  r: Rollout,
  manifest: ReturnType<typeof memberManifest>,
  step: 'UpgradeMember' | 'RevertMember',
): Promise<void> {
  killPoint(step, 'before');
  const result = await applyApp(r.deps, manifest, step === 'RevertMember' ? 'revert' : 'apply');
  const state = result.operation?.state;
  if (state && state.phase !== 'Succeeded') {
    const cause = 'cause' in state ? state.cause : { code: 'Failed', message: `ended ${state.phase}` };
    throw new MemberFailedError(cause);
  }
  killPoint(step, 'after');
}

/** Records a member's failure (the rollout's first failure, its status, the event); rethrows what is not molt's. */
function memberFailed(r: Rollout, role: string, ordinal: number, name: string, e: unknown): ErrorRecord {
  const cause = e instanceof MemberFailedError ? e.record : toErrorRecord(e);
  r.failure ??= { ...cause, message: `${name}: ${cause.message}` };
  setMember(r, role, ordinal, { upgradeStatus: 'failed', ...memberFacts(r, name) });
  r.rs.event(r.id, 'member-failed', `${name}: ${cause.code}: ${cause.message}`, role, name);
  if (!(e instanceof MoltError)) throw e;
  return cause;
}

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

/** True when the member's record runs `release` (its version and release label). */
function runs(r: Rollout, name: string, release: ReleaseManifest): boolean {
  return memberVersion(r, name) === release.spec.version && memberRelease(r, name) === release.metadata.name;
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
