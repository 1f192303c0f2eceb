/**
 * The lifecycle hooks of a local release rollout (seed 003): `--pod_*` on one member, `--role_*`
 * and `--cluster_*` on every member of a role or of the app, each between its two kill points.
 * Every call is journaled in the rollout's event log before it runs, and a hook an interrupted
 * rollout already called is not called again.
 */
import { MemberFailedError, type ErrorRecord } from '../core/errors.ts';
import { roleOf } from '../core/release.ts';
import type { ReleaseAppManifest, ReleaseManifest } from '../core/release-schema.ts';
import type { RolloutStep } from '../core/step-boundaries.ts';
import type { ReleaseStore, RolloutRecord } from '../store/release-store.ts';
import type { RunDeps } from './run-operation.ts';
import { killPoint } from '../testing/test-hooks.ts';

/** One rollout in progress: its deps, ids and the first failure seen. */
export interface Rollout {
  deps: RunDeps;
  rs: ReleaseStore;
  app: ReleaseAppManifest;
  id: number;
  failure?: ErrorRecord;
  /** Events of the rollouts a dead molt left open, just before this one: hooks they already called. */
  prior: RolloutRecord['events'];
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

/** One member's pod hook, between its two kill points. */
export async function podHook(
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
export async function roleHook(r: Rollout, release: ReleaseManifest, role: string, flag: string): Promise<void> {
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
