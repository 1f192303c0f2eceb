/**
 * One reconcile pass of an App that runs a Release: observe → take one step per role (roles
 * in parallel) → observe again, until every role waits; then the status is written once.
 * Decisions about a change of the App reuse the core (decideReleaseApp, checkReleaseChange):
 * a refusal touches nothing and is reported as the Progressing condition's reason and a
 * Warning Event. All progress lives on the role StatefulSets (journal annotations, the
 * template's and pods' release label), so a restarted operator continues where it was.
 */
import { toErrorRecord, UpgradeRefusedError } from '../../core/errors.ts';
import { onMemberFailure, readyBudgetMs } from '../../core/policy/index.ts';
import { checkReleaseChange, decideReleaseApp, roleOf } from '../../core/release.ts';
import type { ReleaseAppManifest, ReleaseManifest } from '../../core/release-schema.ts';
import { RESOURCES, isStatus, type KubeObject } from '../../engines/kubernetes/index.ts';
import type { AppReconcilerDeps } from '../app/reconciler.ts';
import { ANNOTATIONS } from '../app/names.ts';
import type { AppObject } from '../app/observe.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { actOnRole, annotate, event, roleHook, setTemplate, writeJournal, type ReleaseCtx } from './actions.ts';
import { observeRelease, releaseOf, type ReleaseWorld, type RoleSet } from './observe.ts';
import { writeReleaseStatus, type ReleaseOutcome } from './status.ts';
import { boundary } from '../runtime/kill-points.ts';
import { workerImageResolver } from '../task/reconciler.ts';
import { pruneCopies } from './copy-actions.ts';
import { copiesToPrune, roleSnapshots } from './copy-steps.ts';
import { decideInFlight } from './in-flight.ts';
import { pauseOnFailure, pausedOutcome, pauseRequested, resumeRollout } from './pause.ts';
import { nextRoleAction, releaseKillPoint, type RoleAction } from './steps.ts';
import {
  PAUSED_ANNOTATION,
  RELEASE_ANNOTATIONS,
  roleServiceFor,
  roleSetFor,
  type InstalledRelease,
  type LastRollout,
  type RoleJournal,
} from './template.ts';

const MAX_STEPS = 40;
const PROGRESS: ReleaseOutcome = { kind: 'Progress', reason: 'Progressing', message: '' };

/** Reconciles an App whose spec names a Release. */
export async function reconcileReleaseApp(
  deps: AppReconcilerDeps,
  app: AppObject,
  signal: AbortSignal,
): Promise<ReconcileResult> {
  let world: ReleaseWorld | undefined;
  let outcome: ReleaseOutcome = PROGRESS;
  try {
    for (let i = 0; i < MAX_STEPS && outcome.kind === 'Progress'; i++) {
      world = await observeRelease(deps.api, app, signal);
      outcome = await pass(deps, app, world, signal);
    }
  } catch (e) {
    if (signal.aborted) throw e;
    const err = toErrorRecord(e);
    if (world)
      await writeReleaseStatus(deps, app, world, { kind: 'Error', reason: err.code, message: err.message }).catch(
        () => undefined,
      );
    throw e;
  }
  if (world) await writeReleaseStatus(deps, app, world, outcome);
  return outcome.kind === 'Wait' || outcome.kind === 'Progress' || outcome.kind === 'Blocked'
    ? { requeueAfterMs: outcome.kind === 'Blocked' ? 10_000 : 1000 }
    : {};
}

function installedOf(w: ReleaseWorld): InstalledRelease | undefined {
  for (const s of w.sets.values()) if (s.installed) return s.installed;
  return undefined;
}

function journalOf(w: ReleaseWorld): RoleJournal | undefined {
  for (const s of w.sets.values()) if (s.journal) return s.journal;
  return undefined;
}

function ctxOf(
  deps: AppReconcilerDeps,
  app: AppObject,
  manifest: ReleaseAppManifest,
  releases: ReleaseManifest[],
  signal: AbortSignal,
  w: ReleaseWorld,
): ReleaseCtx {
  const ref = {
    name: app.metadata.name ?? '',
    namespace: app.metadata.namespace ?? 'default',
    uid: app.metadata.uid ?? '',
  };
  return {
    api: deps.api,
    client: deps.client,
    events: deps.events,
    app,
    ref,
    manifest,
    releases: new Map(releases.map((r) => [r.metadata.name, r])),
    signal,
    copyImage: deps.workerImage ?? workerImageResolver(deps.api),
    copyJobs: w.copyJobs,
  };
}

async function pass(
  deps: AppReconcilerDeps,
  app: AppObject,
  w: ReleaseWorld,
  signal: AbortSignal,
): Promise<ReleaseOutcome> {
  if (!w.desired.ok) return { kind: 'Invalid', reason: w.desired.reason, message: w.desired.message };
  const installed = installedOf(w);
  const journal = journalOf(w);
  const releases = [installed?.release, w.target].filter((r): r is ReleaseManifest => r !== undefined);
  const c = ctxOf(deps, app, w.desired.manifest, releases, signal, w);
  if (journal && installed) return drive(c, w, journal, installed);
  if (!w.target)
    return {
      kind: 'Blocked',
      reason: w.targetProblem?.reason ?? 'ReleaseNotFound',
      message: w.targetProblem?.message ?? '',
    };
  if (!installed) return install(c, w, w.target);
  return decideChange(c, w, installed, w.target);
}

/** Creates each role's Service and StatefulSet (the installed record goes on with it). */
async function install(c: ReleaseCtx, w: ReleaseWorld, target: ReleaseManifest): Promise<ReleaseOutcome> {
  const record: InstalledRelease = { app: c.manifest.spec, release: target };
  boundary(releaseKillPoint('Install'), 'before');
  for (const role of c.manifest.spec.roles) {
    if (w.sets.has(role.name)) continue;
    const sts = roleSetFor(c.ref, c.manifest, target, role.name, role.members, false);
    sts.metadata.annotations = { [RELEASE_ANNOTATIONS.installed]: JSON.stringify(record) };
    await createOrKeep(c, RESOURCES.services, roleServiceFor(c.ref, role.name));
    await createOrKeep(c, RESOURCES.statefulsets, sts);
  }
  boundary(releaseKillPoint('Install'), 'after');
  await event(
    c,
    'Normal',
    'Installing',
    `installing release ${target.metadata.name} (${c.manifest.spec.roles.map((r) => `${r.name}×${r.members}`).join(', ')})`,
  );
  return PROGRESS;
}

async function createOrKeep(
  c: ReleaseCtx,
  t: (typeof RESOURCES)[keyof typeof RESOURCES],
  body: KubeObject,
): Promise<void> {
  try {
    await c.api.create(t, c.ref.namespace, body);
  } catch (e) {
    if (!isStatus(e, 409)) throw e;
  }
}

/** The installed Release as it is now: the live object when only `upgradable` changed. */
function currentRelease(
  w: ReleaseWorld,
  installed: InstalledRelease,
  live: ReleaseManifest | undefined,
  app: string,
): ReleaseManifest {
  if (!live) return installed.release;
  checkReleaseChange(installed.release, live, [app]);
  return live;
}

async function decideChange(
  c: ReleaseCtx,
  w: ReleaseWorld,
  installed: InstalledRelease,
  target: ReleaseManifest,
): Promise<ReleaseOutcome> {
  const desired = c.manifest;
  const last = [...w.sets.values()].find((s) => s.last)?.last;
  if (
    last?.outcome === 'RolledBack' &&
    last.to === desired.spec.release &&
    installed.app.release !== desired.spec.release &&
    sameRoles(installed, desired)
  ) {
    return {
      kind: 'Steady',
      reason: 'RolledBack',
      message: `the rollout to ${last.to} was rolled back (${last.reason}: ${last.message}); change spec.release to try again`,
    };
  }
  // `molt rollback` set spec.release back to the previous release and named it: that older release is permitted.
  const rollbackTo = c.app.metadata.annotations?.[ANNOTATIONS.rollbackTo];
  if (
    rollbackTo !== undefined &&
    rollbackTo === desired.spec.release &&
    rollbackTo !== installed.release.metadata.name &&
    sameRoles(installed, desired)
  )
    return startRollout(c, w, installed.release, target, true);
  if (rollbackTo !== undefined) await clearRollbackTo(c);
  try {
    const liveObj =
      installed.release.metadata.name === target.metadata.name
        ? target
        : await c.api.get<KubeObject & { spec?: unknown }>(
            RESOURCES.releases,
            undefined,
            installed.release.metadata.name,
            c.signal,
          );
    const live = liveObj ? releaseOf(liveObj) : undefined;
    const from = currentRelease(w, installed, typeof live === 'string' ? undefined : live, desired.metadata.name);
    const manifest = { ...desired, spec: { ...installed.app } } as ReleaseAppManifest;
    const d = decideReleaseApp(
      desired,
      { manifest, release: from, updating: false, isRollingBack: false, membersBehind: 0 },
      target,
    );
    if (d.action === 'rollout') return startRollout(c, w, d.from, d.to);
    if (d.action === 'scale') return scale(c, w, installed);
    const doomed = copiesToPrune(c.ref.name, installed, w.copyJobs, w.copies);
    if (doomed.jobs.length || doomed.claims.length) {
      boundary(releaseKillPoint('PruneSnapshots'), 'before');
      await pruneCopies(c, doomed);
      boundary(releaseKillPoint('PruneSnapshots'), 'after');
      return PROGRESS;
    }
    return { kind: 'Steady', reason: 'UpToDate', message: `runs ${installed.release.metadata.name}` };
  } catch (e) {
    if (e instanceof UpgradeRefusedError) return { kind: 'Refuse', reason: e.code, message: e.message };
    throw e;
  }
}

/** Removes `molt rollback`'s permission once it is used up or moot. */
async function clearRollbackTo(c: ReleaseCtx): Promise<void> {
  if (c.app.metadata.annotations?.[ANNOTATIONS.rollbackTo] === undefined) return;
  await c.api.mergePatch(RESOURCES.apps, c.ref.namespace, c.ref.name, {
    metadata: { annotations: { [ANNOTATIONS.rollbackTo]: null } },
  });
  c.app.metadata.annotations = Object.fromEntries(
    Object.entries(c.app.metadata.annotations).filter(([k]) => k !== ANNOTATIONS.rollbackTo),
  );
}

function sameRoles(installed: InstalledRelease, desired: ReleaseAppManifest): boolean {
  return JSON.stringify(installed.app.roles) === JSON.stringify(desired.spec.roles);
}

/** A change of the member counts alone: the StatefulSets' replicas. */
async function scale(c: ReleaseCtx, w: ReleaseWorld, installed: InstalledRelease): Promise<ReleaseOutcome> {
  const roles = c.manifest.spec.roles;
  if (roles.length !== installed.app.roles.length || roles.some((r) => !w.sets.has(r.name))) {
    return { kind: 'Refuse', reason: 'ChangeRefused', message: 'the set of roles of an installed app cannot change' };
  }
  const record: InstalledRelease = { ...installed, app: c.manifest.spec };
  for (const r of roles) {
    const set = w.sets.get(r.name) as RoleSet;
    await c.api.mergePatch(RESOURCES.statefulsets, c.ref.namespace, set.name, {
      spec: { replicas: r.members },
      metadata: { annotations: { [RELEASE_ANNOTATIONS.installed]: JSON.stringify(record) } },
    });
  }
  await event(c, 'Normal', 'Scaled', roles.map((r) => `${r.name}×${r.members}`).join(', '));
  return PROGRESS;
}

async function startRollout(
  c: ReleaseCtx,
  w: ReleaseWorld,
  from: ReleaseManifest,
  to: ReleaseManifest,
  rollback = false,
): Promise<ReleaseOutcome> {
  const j: RoleJournal = {
    state: 'Upgrading',
    from: from.metadata.name,
    to: to.metadata.name,
    startedAt: new Date().toISOString(),
    touched: [],
    hooked: [],
    reverted: [],
    roleHooked: false,
    times: {},
    ...(rollback ? { rollback: true } : {}),
    // The operation the volume copies are named after: every rollout starts from a changed spec.
    ...(c.app.metadata.generation !== undefined ? { generation: c.app.metadata.generation } : {}),
  };
  boundary(releaseKillPoint('StartRollout'), 'before');
  for (const set of w.sets.values()) await writeJournal(c, set, j);
  boundary(releaseKillPoint('StartRollout'), 'after');
  await event(
    c,
    'Normal',
    rollback ? 'RollbackStarted' : 'UpgradeStarted',
    `${rollback ? 'molt rollback: ' : ''}${from.metadata.name} (${from.spec.version}) → ${to.metadata.name} (${to.spec.version}), roles in parallel, members from the highest ordinal down`,
  );
  return PROGRESS;
}

/** One step per role of the rollout in flight, or its end. */
async function drive(
  c: ReleaseCtx,
  w: ReleaseWorld,
  journal: RoleJournal,
  installed: InstalledRelease,
): Promise<ReleaseOutcome> {
  const change = decideInFlight(c.manifest, journal, installed, w.target);
  if (change.action === 'rollback' && journal.state === 'Upgrading') {
    await rollbackAll(c, w, 'RollbackRequested: spec.release set back to ' + journal.from);
    return PROGRESS;
  }
  // A refused change is reported; the rollout in flight goes on (or back) regardless.
  const refusal: ReleaseOutcome | undefined =
    change.action === 'refuse' ? { kind: 'Refuse', reason: change.reason, message: change.message } : undefined;
  const paused = pauseRequested(c.app);
  if (journal.state === 'Upgrading' && journal.paused && !paused) {
    await resumeRollout(c, w, journal);
    return PROGRESS;
  }
  const sets = [...w.sets.values()].filter((s) => s.journal);
  const releases = { from: c.releases.get(journal.from) ?? installed.release, to: c.releases.get(journal.to) };
  if (!releases.to) {
    const obj = await c.api.get<KubeObject & { spec?: unknown }>(RESOURCES.releases, undefined, journal.to, c.signal);
    const r = obj ? releaseOf(obj) : undefined;
    if (!r || typeof r === 'string')
      return {
        kind: 'Blocked',
        reason: 'ReleaseNotFound',
        message: `release ${journal.to} of the rollout in flight cannot be read`,
      };
    c.releases.set(journal.to, r);
  }
  const actions = sets.map((s) => {
    const rel = (journal.state === 'Upgrading' ? c.releases.get(journal.to) : releases.from) as ReleaseManifest;
    const members = c.manifest.spec.roles.find((r) => r.name === s.role)?.members ?? s.replicas;
    return nextRoleAction({
      name: s.role,
      members,
      templateRelease: s.templateRelease,
      journal: s.journal as RoleJournal,
      pods: s.pods,
      budgetMs: readyBudgetMs(roleOf(rel, s.role), journal.state === 'Upgrading'),
      now: w.now,
      partition: c.manifest.spec.upgradeStrategy.partition,
      maxUnavailable: c.manifest.spec.upgradeStrategy.maxUnavailable,
      pauseRequested: paused,
      ...(journal.generation !== undefined
        ? {
            copies: {
              setName: s.name,
              generation: journal.generation,
              snapshot: roleSnapshots(c.releases.get(journal.to), s.role),
              replicas: s.replicas,
              jobs: w.copyJobs,
            },
          }
        : {}),
    });
  });
  const results = await Promise.all(sets.map((s, i) => actOnRole(c, s, actions[i] as RoleAction)));
  const failed = results.map((r, i) => ({ r, set: sets[i] as RoleSet })).find((x) => x.r.kind === 'Fail');
  if (failed && failed.r.kind === 'Fail') {
    if (onMemberFailure(c.manifest.spec.upgradeStrategy) === 'pause') {
      await pauseOnFailure(c, w, failed.set.role, failed.r);
      return PROGRESS;
    }
    await writeJournal(c, failed.set, { ...(failed.set.journal as RoleJournal), failed: failed.r.ordinal });
    await rollbackAll(c, w, `${failed.r.reason}: ${failed.r.message}`);
    return PROGRESS;
  }
  if (results.every((r) => r.kind === 'Done')) return finish(c, w, journal);
  if (results.some((r) => r.kind !== 'Wait' && r.kind !== 'Done')) return PROGRESS;
  if (results.some((r) => r.kind === 'Wait' && r.paused)) return refusal ?? pausedOutcome(journal, results);
  const stuck = results.find((r) => r.kind === 'Wait' && r.reason === 'RollbackStuck');
  return (
    refusal ?? {
      kind: 'Wait',
      reason: stuck ? 'RollbackStuck' : journal.state,
      message: results
        .map((r) => (r.kind === 'Wait' ? r.message : ''))
        .filter(Boolean)
        .join('; '),
    }
  );
}

async function rollbackAll(c: ReleaseCtx, w: ReleaseWorld, cause: string): Promise<void> {
  boundary(releaseKillPoint('StartRollback'), 'before');
  for (const set of w.sets.values()) {
    if (set.journal)
      await writeJournal(c, set, { ...set.journal, state: 'RollingBack', roleHooked: false, cause, paused: undefined });
  }
  boundary(releaseKillPoint('StartRollback'), 'after');
  await event(c, 'Warning', 'RollingBack', `rolling back the touched members to ${journalOf(w)?.from}: ${cause}`);
}

/** The end of a rollout: the cluster hook, the normal template, the records. */
async function finish(c: ReleaseCtx, w: ReleaseWorld, j: RoleJournal): Promise<ReleaseOutcome> {
  const up = j.state === 'Upgrading';
  const touched = [...w.sets.values()].some((s) => (s.journal?.touched.length ?? 0) > 0);
  if (up || touched) {
    boundary(releaseKillPoint('ClusterHook'), 'before');
    await Promise.all(
      [...w.sets.values()].map((s) =>
        roleHook(c, s, j, up ? j.to : j.from, up ? '--cluster_upgraded' : '--cluster_reverted'),
      ),
    );
    boundary(releaseKillPoint('ClusterHook'), 'after');
  }
  const now = new Date().toISOString();
  const cause = j.cause ?? '';
  const last: Omit<LastRollout, 'journal'> = {
    from: j.from,
    to: j.to,
    outcome: up ? 'Succeeded' : 'RolledBack',
    reason: up ? 'Upgraded' : (cause.split(':')[0] ?? 'Failed'),
    message: up ? `every member runs ${j.to}` : cause,
    startedAt: j.startedAt,
    finishedAt: now,
  };
  boundary(releaseKillPoint('FinishRollout'), 'before');
  for (const set of w.sets.values()) {
    await setTemplate(c, set, up ? j.to : j.from, false);
    const values: Record<string, unknown> = {
      [RELEASE_ANNOTATIONS.rollout]: null,
      [RELEASE_ANNOTATIONS.last]: { ...last, journal: set.journal },
    };
    if (up) values[RELEASE_ANNOTATIONS.installed] = { app: c.manifest.spec, release: c.releases.get(j.to) };
    await annotate(c, set.name, values);
  }
  if (pauseRequested(c.app)) {
    await c.api.mergePatch(RESOURCES.apps, c.ref.namespace, c.ref.name, {
      metadata: { annotations: { [PAUSED_ANNOTATION]: null } },
    });
    delete c.app.metadata.annotations?.[PAUSED_ANNOTATION];
  }
  boundary(releaseKillPoint('FinishRollout'), 'after');
  await clearRollbackTo(c);
  await event(
    c,
    up ? 'Normal' : 'Warning',
    up ? 'Upgraded' : 'RolledBack',
    up ? `every member runs ${j.to}` : `back on ${j.from}: ${cause}`,
  );
  return PROGRESS;
}
