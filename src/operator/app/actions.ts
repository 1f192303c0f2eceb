/**
 * What each step of decide.ts does to the cluster — side effects only, each safe to repeat:
 * the template is written with server-side apply (the same object twice is no change), the
 * records are JSON merge patches of the StatefulSet's annotations, a member is restarted by
 * deleting its pod with a UID precondition (a pod that was already replaced is never deleted),
 * ExecPods are created by name (AlreadyExists is fine). Every step records an Event.
 */
import { MoltError, ScriptError, toErrorRecord, type ErrorRecord } from '../../core/errors.ts';
import type { AppSpec } from '../../core/model.ts';
import {
  postUpgradeRetryDelayMs,
  retryPostUpgrade,
  upgradeFailureThreshold,
  type Reason,
} from '../../core/policy/index.ts';
import { baseName, preUpgradeDir } from '../../core/scripts.ts';
import type { EventRecorder, KubeClient, KubeObject, Pod, ResourceApi } from '../../engines/kubernetes/index.ts';
import { isStatus, RESOURCES } from '../../engines/kubernetes/index.ts';
import type { Step } from './decide.ts';
import { ANNOTATIONS, FINALIZER, statefulSetName } from './names.ts';
import {
  checkRun,
  fetchScript,
  openGate,
  prepareRun,
  runScript,
  type FetchedScript,
  type ScriptContext,
  type ScriptRunRecord,
} from './scripts.ts';
import { execPodFor, serviceFor, specHash, statefulSetFor, type AppRef } from './template.ts';
import { installedRecord, podDigest, resolveUpgrade } from './digests.ts';
import {
  holdMember,
  holding,
  pruneSnapshots,
  releaseMember,
  removeJobs,
  restoreVolumes,
  snapshotVolumes,
} from './copy-actions.ts';
import { isLocalImage } from '../../engines/registry/reference.ts';
import {
  scriptsOf,
  type AppWorld,
  type InstalledRecord,
  type LastUpgradeRecord,
  type UpgradeJournal,
} from './world.ts';

/** What the actions need. */
export interface ActionContext {
  api: ResourceApi;
  client: KubeClient;
  events: EventRecorder;
  /** The App object (with apiVersion and kind, for Events). */
  app: KubeObject;
  ref: AppRef;
  world: AppWorld;
  signal: AbortSignal;
  log: (line: string) => void;
  /** molt's image (the operator's own), for the volume copy Jobs. */
  copyImage: () => Promise<string>;
}

/** Runs one non-terminal step; may answer with a terminal step (e.g. wait for the ExecPod). */
export async function act(ctx: ActionContext, step: Step): Promise<Step | undefined> {
  switch (step.kind) {
    case 'Install':
      return install(ctx);
    case 'Converge':
      return applyTemplate(ctx, desiredSpec(ctx), undefined, undefined, 'Converging', step.message);
    case 'MarkInstalled':
      return markInstalled(ctx);
    case 'Record':
      return record(ctx);
    case 'BeginUpgrade':
      return beginUpgrade(ctx, step.warnings, step.rollback === true);
    case 'ClearRollbackTo':
      return clearRollbackTo(ctx);
    case 'SnapshotVolumes':
      return snapshotVolumes(ctx, step.member);
    case 'PreUpgrade':
      return preUpgrade(ctx, step.member);
    case 'SwitchTemplate':
      return switchTemplate(ctx, step.to);
    case 'RestartMember':
      return restartMember(ctx, step.member, step.uid);
    case 'PostUpgrade':
      return postUpgrade(ctx, step.member);
    case 'StartRollback':
      return startRollback(ctx, step.cause);
    case 'HoldMember':
      return holdMember(ctx, step.member);
    case 'RestoreVolumes':
      return restoreVolumes(ctx, step.member);
    case 'ReleaseMember':
      return releaseMember(ctx, step.member);
    case 'PruneSnapshots':
      return pruneSnapshots(ctx, step.claims);
    case 'Abort':
      return finish(ctx, { outcome: 'Aborted', cause: step.cause });
    case 'FinishUpgrade':
      return finish(ctx, { outcome: 'Succeeded' });
    case 'FinishRollback':
      return finish(ctx, {
        outcome: 'RolledBack',
        cause: journalOf(ctx).cause ?? { code: 'RolledBack', message: 'rolled back' },
      });
    case 'Cleanup':
      await removeJobs(ctx, step.jobs ?? []);
      return cleanup(ctx, step.pods, 'ExecPodRemoved');
    case 'Delete':
      return remove(ctx);
    default:
      return undefined;
  }
}

export function event(
  ctx: ActionContext,
  type: 'Normal' | 'Warning',
  reason: Reason,
  action: string,
  note: string,
): Promise<void> {
  ctx.log(`${type === 'Warning' ? 'warning' : 'event'} ${reason}: ${note}`);
  return ctx.events.record({ regarding: ctx.app, type, reason, action, note }).then((e) => {
    if (e) ctx.log(`could not record event ${reason}: ${e.message}`);
  });
}

function desiredSpec(ctx: ActionContext): AppSpec {
  if (!ctx.world.desired.ok) throw new Error('internal: no valid desired spec');
  return ctx.world.desired.manifest.spec;
}

export function installedOf(ctx: ActionContext): InstalledRecord {
  const i = ctx.world.sts?.installed;
  if (!i) throw new Error('internal: no installed record');
  return i;
}

export function journalOf(ctx: ActionContext): UpgradeJournal {
  const j = ctx.world.sts?.journal;
  if (!j) throw new Error('internal: no upgrade in flight');
  return j;
}

/** Writes the records (null removes one) as one merge patch of the StatefulSet's annotations. */
export async function writeRecords(
  ctx: ActionContext,
  records: { installed?: InstalledRecord | null; upgrade?: UpgradeJournal | null; last?: LastUpgradeRecord | null },
): Promise<void> {
  const annotations: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(records)) {
    if (value !== undefined)
      annotations[ANNOTATIONS[key as keyof typeof records]] = value === null ? null : JSON.stringify(value);
  }
  await ctx.api.mergePatch(RESOURCES.statefulsets, ctx.ref.namespace, statefulSetName(ctx.ref.name), {
    metadata: { annotations },
  });
}

async function applyTemplate(
  ctx: ActionContext,
  spec: AppSpec,
  journal: UpgradeJournal | undefined,
  digest: string | undefined,
  reason: Reason,
  note: string,
): Promise<undefined> {
  const mode = journal && {
    from: journal.from,
    to: journal.to,
    gate: Boolean(scriptsOf(journal).postUpgrade),
    failureThreshold: upgradeFailureThreshold(spec, spec.probes.startup),
  };
  const sts = statefulSetFor(ctx.ref, spec, mode, digest);
  // A member held down for the restore of its volumes stays down whatever template is written.
  if (holding(ctx.world.sts?.journal) && sts.spec) sts.spec.replicas = 0;
  await ctx.api.apply(RESOURCES.statefulsets, ctx.ref.namespace, sts);
  await event(ctx, 'Normal', reason, 'UpdateTemplate', note);
  return undefined;
}

async function install(ctx: ActionContext): Promise<undefined> {
  const spec = desiredSpec(ctx);
  await ctx.api.apply(RESOURCES.services, ctx.ref.namespace, serviceFor(ctx.ref));
  await ctx.api.apply(RESOURCES.statefulsets, ctx.ref.namespace, statefulSetFor(ctx.ref, spec));
  await event(
    ctx,
    'Normal',
    'Installing',
    'Install',
    `created StatefulSet ${statefulSetName(ctx.ref.name)} for ${spec.version} (${spec.image}); ${spec.volumes.length} volume claim(s)`,
  );
  return undefined;
}

async function markInstalled(ctx: ActionContext): Promise<undefined> {
  const spec = desiredSpec(ctx);
  const ran = podDigest(ctx.world);
  const installed = installedRecord(spec, ran?.digest, undefined);
  // The members run this digest: pin it, so a member recreated later runs the same content.
  if (ran?.pinnable && !isLocalImage(spec.image))
    await ctx.api.apply(
      RESOURCES.statefulsets,
      ctx.ref.namespace,
      statefulSetFor(ctx.ref, spec, undefined, ran.digest),
    );
  await writeRecords(ctx, { installed });
  await event(
    ctx,
    'Normal',
    'Installed',
    'Install',
    `${spec.version} is running and ready${ran ? ` (${ran.digest})` : ''}`,
  );
  return undefined;
}

async function record(ctx: ActionContext): Promise<undefined> {
  const spec = desiredSpec(ctx);
  const before = installedOf(ctx);
  await writeRecords(ctx, { installed: { ...installedRecord(spec, before.digest, before), hash: specHash(spec) } });
  await event(
    ctx,
    'Normal',
    'SettingsRecorded',
    'Record',
    'settings changed; members pick up pod-level changes at their next restart',
  );
  return undefined;
}

async function beginUpgrade(ctx: ActionContext, warnings: string[], rollback: boolean): Promise<Step | undefined> {
  const installed = installedOf(ctx);
  const target = desiredSpec(ctx);
  const journal: UpgradeJournal = {
    state: 'Upgrading',
    from: installed.version,
    to: target.version,
    fromHash: installed.hash,
    toHash: specHash(target),
    target,
    generation: ctx.world.app.generation,
    startedAt: new Date().toISOString(),
    preUpgraded: [],
    postUpgraded: [],
    postAttempts: {},
    ...(rollback ? { rollback: true } : {}),
  };
  const resolved = await resolveUpgrade(ctx.api, ctx.ref.namespace, installed, target, rollback, ctx.signal);
  if ('failure' in resolved) {
    await event(
      ctx,
      'Warning',
      'ImageUnreadable',
      'BeginUpgrade',
      `${resolved.failure.code}: ${resolved.failure.message}`,
    );
    return finish(ctx, { outcome: 'Aborted', cause: resolved.failure }, journal);
  }
  Object.assign(journal, resolved.journal);
  await writeRecords(ctx, { upgrade: journal });
  if (resolved.note) await event(ctx, 'Normal', 'ScriptsResolved', 'BeginUpgrade', resolved.note);
  for (const w of warnings) await event(ctx, 'Warning', 'UpgradeWarning', 'BeginUpgrade', w);
  await event(
    ctx,
    'Normal',
    rollback ? 'RollbackStarted' : 'UpgradeStarted',
    'BeginUpgrade',
    `${rollback ? 'rolling back (molt rollback)' : 'upgrading'} ${installed.version} → ${target.version} (${target.image}), members from the highest ordinal down`,
  );
  return undefined;
}

/** Removes `molt rollback`'s permission once it is used up or moot (the App is at that version). */
async function clearRollbackTo(ctx: ActionContext): Promise<undefined> {
  if (!ctx.app.metadata.annotations?.[ANNOTATIONS.rollbackTo]) return undefined;
  await ctx.api.mergePatch(RESOURCES.apps, ctx.ref.namespace, ctx.ref.name, {
    metadata: { annotations: { [ANNOTATIONS.rollbackTo]: null } },
  });
  ctx.app.metadata.annotations = Object.fromEntries(
    Object.entries(ctx.app.metadata.annotations).filter(([k]) => k !== ANNOTATIONS.rollbackTo),
  );
  return undefined;
}

async function preUpgrade(ctx: ActionContext, member: string): Promise<Step | undefined> {
  const j = journalOf(ctx);
  const podSpec = execPodFor(ctx.ref, j.target, j.digest);
  const execName = podSpec.metadata.name ?? '';
  const exec = ctx.world.execPods.find((p) => p.name === execName);
  if (!exec) {
    try {
      await ctx.api.create<Pod>(RESOURCES.pods, ctx.ref.namespace, podSpec);
      await event(
        ctx,
        'Normal',
        'ExecPodCreated',
        'PreUpgrade',
        `ExecPod ${execName} of ${j.to} provides its pre-upgrade script`,
      );
    } catch (e) {
      if (!isStatus(e, 409)) throw e;
    }
    return { kind: 'Wait', reason: 'Upgrading', message: `waiting for ExecPod ${execName}`, afterMs: 1000 };
  }
  if (!exec.running)
    return { kind: 'Wait', reason: 'Upgrading', message: `waiting for ExecPod ${execName} to run`, afterMs: 1000 };
  const path = scriptsOf(j).preUpgrade ?? '';
  const run = await scriptStep(ctx, j, member, 'pre-upgrade', async (sctx) => {
    const script = await fetchScript(sctx, execName, path, j.target.upgrade.scriptMaxBytes, j.target.image);
    const dir = preUpgradeDir(j.generation, Date.now());
    return { record: newRun(ctx, j, 'pre-upgrade', member, dir, [`${dir}/${baseName(path)}`, j.from, j.to]), script };
  });
  if (run.kind !== 'done') return run.step;
  await writeRecords(ctx, { upgrade: { ...j, running: undefined, preUpgraded: [...j.preUpgraded, member] } });
  await event(
    ctx,
    'Normal',
    'PreUpgradeSucceeded',
    'PreUpgrade',
    `${path} ${j.from} ${j.to} exited 0 in pod ${member}${run.transcript ? `:\n${run.transcript.slice(-600)}` : ''}`,
  );
  return undefined;
}

/** The journaled run of this script for this member, if it can still be resumed (same pod). */
function resumableRun(
  ctx: ActionContext,
  j: UpgradeJournal,
  script: ScriptRunRecord['script'],
  member: string,
): ScriptRunRecord | undefined {
  const r = j.running;
  const pod = ctx.world.members.find((m) => m.name === member)?.pod;
  return r && r.script === script && r.member === member && r.podUid === pod?.uid ? r : undefined;
}

function newRun(
  ctx: ActionContext,
  j: UpgradeJournal,
  script: ScriptRunRecord['script'],
  member: string,
  dir: string,
  argv: string[],
): ScriptRunRecord {
  const podUid = ctx.world.members.find((m) => m.name === member)?.pod?.uid ?? '';
  return {
    script,
    member,
    podUid,
    dir,
    argv,
    startedAt: new Date().toISOString(),
    timeoutSeconds: j.target.upgrade.scriptTimeoutSeconds,
  };
}

type ScriptOutcome = { kind: 'done'; transcript: string } | { kind: 'stop'; step: Step | undefined };

/**
 * Runs a script exactly once: resumes a journaled run (reads its result from the pod, or waits
 * for it), else journals a new run, prepares and runs it. A script failure ends the upgrade:
 * abort when no member was touched yet, else roll back (post-upgrade: retry first if so set).
 */
async function scriptStep(
  ctx: ActionContext,
  j: UpgradeJournal,
  member: string,
  script: ScriptRunRecord['script'],
  start: (sctx: ScriptContext) => Promise<{ record: ScriptRunRecord; script?: FetchedScript }>,
): Promise<ScriptOutcome> {
  const sctx: ScriptContext = { client: ctx.client, namespace: ctx.ref.namespace, signal: ctx.signal, log: ctx.log };
  try {
    const resumed = resumableRun(ctx, j, script, member);
    if (resumed) {
      const state = await checkRun(sctx, resumed);
      if (state === 'running')
        return {
          kind: 'stop',
          step: {
            kind: 'Wait',
            reason: 'Upgrading',
            message: `the ${script} script started by a previous leader still runs in ${member}`,
            afterMs: 2000,
          },
        };
      if (state === 'lost')
        await event(
          ctx,
          'Warning',
          'ScriptInterrupted',
          'RunScript',
          `the ${script} script run in ${member} (${resumed.dir}) was killed before it finished; running it again`,
        );
      else if (state !== 'none') return { kind: 'done', transcript: state.transcript };
    }
    const { record: run, script: fetched } = await start(sctx);
    await writeRecords(ctx, { upgrade: { ...j, running: run } });
    await prepareRun(sctx, run, fetched);
    return { kind: 'done', transcript: await runScript(sctx, run) };
  } catch (e) {
    if (!scriptFailure(e)) throw e;
    return { kind: 'stop', step: await scriptFailed(ctx, j, member, script, toErrorRecord(e)) };
  }
}

async function scriptFailed(
  ctx: ActionContext,
  j: UpgradeJournal,
  member: string,
  script: ScriptRunRecord['script'],
  cause: ErrorRecord,
): Promise<Step | undefined> {
  const journal = { ...j, running: undefined };
  if (script === 'pre-upgrade') {
    await event(ctx, 'Warning', 'PreUpgradeFailed', 'PreUpgrade', `${cause.code}: ${cause.message}`);
    const touched = ctx.world.members.some((m) => m.pod?.hash === j.toHash);
    return touched ? startRollback(ctx, cause, journal) : finish(ctx, { outcome: 'Aborted', cause }, journal);
  }
  const attempts = (j.postAttempts[member] ?? 0) + 1;
  await event(
    ctx,
    'Warning',
    'PostUpgradeFailed',
    'PostUpgrade',
    `attempt ${attempts}: ${cause.code}: ${cause.message}`,
  );
  if (retryPostUpgrade(j.target.upgrade, attempts)) {
    await writeRecords(ctx, { upgrade: { ...journal, postAttempts: { ...j.postAttempts, [member]: attempts } } });
    return {
      kind: 'Wait',
      reason: 'Upgrading',
      message: `post-upgrade attempt ${attempts}/${j.target.upgrade.postUpgradeAttempts} failed; retrying (onFailure: retry)`,
      afterMs: postUpgradeRetryDelayMs(attempts),
    };
  }
  return startRollback(ctx, cause, journal);
}

/** A failure of the script itself (or of running it), not of the API: it does not go away by retrying. */
function scriptFailure(e: unknown): e is MoltError {
  return e instanceof ScriptError || (e instanceof MoltError && !e.retryable);
}

async function switchTemplate(ctx: ActionContext, to: 'target' | 'installed' | 'normal'): Promise<undefined> {
  if (to === 'target') {
    const j = journalOf(ctx);
    return applyTemplate(
      ctx,
      j.target,
      j,
      j.digest,
      'TemplateSwitched',
      `pod template now runs ${j.to} (${j.target.image}${j.digest ? `@${j.digest}` : ''}) with the raised startup budget${scriptsOf(j).postUpgrade ? ' and the startup gate' : ''}`,
    );
  }
  const installed = installedOf(ctx);
  const note =
    to === 'installed'
      ? `pod template back to ${installed.version} (${installed.spec.image})`
      : `pod template restored to ${installed.version}'s normal startup budget`;
  return applyTemplate(
    ctx,
    installed.spec,
    undefined,
    installed.digest,
    to === 'installed' ? 'TemplateReverted' : 'TemplateRestored',
    note,
  );
}

async function restartMember(ctx: ActionContext, member: string, uid: string): Promise<undefined> {
  const j = ctx.world.sts?.journal;
  const deleted = await ctx.api.delete(RESOURCES.pods, ctx.ref.namespace, member, { uid });
  const to = j
    ? j.state === 'Upgrading'
      ? j.to
      : j.from
    : ctx.world.desired.ok
      ? ctx.world.desired.manifest.spec.version
      : '';
  if (deleted)
    await event(
      ctx,
      'Normal',
      'MemberRestarted',
      j?.state === 'RollingBack' ? 'RollBackMember' : 'UpgradeMember',
      `deleted pod ${member} so the StatefulSet recreates it as ${to} (same name, same volume claims)`,
    );
  return undefined;
}

async function postUpgrade(ctx: ActionContext, member: string): Promise<Step | undefined> {
  const j = journalOf(ctx);
  const path = scriptsOf(j).postUpgrade ?? '';
  const run = await scriptStep(ctx, j, member, 'post-upgrade', async () => ({
    record: newRun(ctx, j, 'post-upgrade', member, `/tmp/molt-post-upgrade-${j.generation}-${Date.now()}`, [
      path,
      j.from,
      j.to,
    ]),
  }));
  if (run.kind !== 'done') return run.step;
  await openGate(
    { client: ctx.client, namespace: ctx.ref.namespace, signal: ctx.signal, log: ctx.log },
    member,
    j.from,
    j.to,
  );
  await writeRecords(ctx, { upgrade: { ...j, running: undefined, postUpgraded: [...j.postUpgraded, member] } });
  await event(
    ctx,
    'Normal',
    'PostUpgradeSucceeded',
    'PostUpgrade',
    `${path} ${j.from} ${j.to} exited 0 in pod ${member}; startup gate opened${run.transcript ? `:\n${run.transcript.slice(-600)}` : ''}`,
  );
  return undefined;
}

async function startRollback(ctx: ActionContext, cause: ErrorRecord, journal?: UpgradeJournal): Promise<undefined> {
  const j = journal ?? journalOf(ctx);
  await writeRecords(ctx, { upgrade: { ...j, state: 'RollingBack', cause } });
  await event(
    ctx,
    'Warning',
    'RollingBack',
    'Rollback',
    `rolling back ${j.to} → ${j.from}: ${cause.code}: ${cause.message}`,
  );
  return undefined;
}

async function finish(
  ctx: ActionContext,
  end: { outcome: LastUpgradeRecord['outcome']; cause?: ErrorRecord },
  journal?: UpgradeJournal,
): Promise<undefined> {
  const j = journal ?? journalOf(ctx);
  const last: LastUpgradeRecord = {
    from: j.from,
    to: j.to,
    toHash: j.toHash,
    outcome: end.outcome,
    startedAt: j.startedAt,
    finishedAt: new Date().toISOString(),
    reason: end.cause?.code ?? 'UpgradeSucceeded',
    message: end.cause?.message ?? `${j.from} → ${j.to}`,
    fromImage: installedOf(ctx).spec.image,
    toImage: j.target.image,
    fromSpec: installedOf(ctx).spec,
    ...(j.rollback ? { rollback: true } : {}),
    ...(installedOf(ctx).digest ? { fromDigest: installedOf(ctx).digest } : {}),
    ...(j.digest ? { toDigest: j.digest } : {}),
  };
  const upgraded =
    end.outcome === 'Succeeded'
      ? { ...installedRecord(j.target, j.digest ?? podDigest(ctx.world)?.digest, installedOf(ctx)), hash: j.toHash }
      : undefined;
  const records = upgraded ? { installed: upgraded, upgrade: null, last } : { upgrade: null, last };
  await writeRecords(ctx, records);
  await cleanup(
    ctx,
    ctx.world.execPods.map((p) => p.name),
    'ExecPodRemoved',
  );
  await removeJobs(
    ctx,
    ctx.world.copyJobs.map((x) => x.name),
  );
  await clearRollbackTo(ctx);
  if (end.outcome === 'Succeeded')
    await event(ctx, 'Normal', 'Upgraded', 'FinishUpgrade', `upgraded ${j.from} → ${j.to}`);
  else if (end.outcome === 'RolledBack')
    await event(
      ctx,
      'Warning',
      'RolledBack',
      'FinishRollback',
      `rolled back to ${j.from} after ${last.reason}: ${last.message}`,
    );
  else
    await event(
      ctx,
      'Warning',
      'UpgradeAborted',
      'Abort',
      `upgrade to ${j.to} aborted before any member was touched: ${last.reason}: ${last.message}`,
    );
  return undefined;
}

async function cleanup(ctx: ActionContext, pods: string[], reason: Reason): Promise<undefined> {
  for (const name of pods) {
    if (await ctx.api.delete(RESOURCES.pods, ctx.ref.namespace, name, { gracePeriodSeconds: 0 })) {
      await event(ctx, 'Normal', reason, 'Cleanup', `deleted ExecPod ${name}`);
    }
  }
  return undefined;
}

/** The App is being deleted: remove ExecPods, then release the finalizer (owned objects go by garbage collection). */
async function remove(ctx: ActionContext): Promise<Step> {
  await cleanup(
    ctx,
    ctx.world.execPods.map((p) => p.name),
    'ExecPodRemoved',
  );
  const finalizers = ctx.app.metadata.finalizers ?? [];
  const i = finalizers.indexOf(FINALIZER);
  if (i >= 0) {
    await ctx.api.jsonPatch(RESOURCES.apps, ctx.ref.namespace, ctx.ref.name, [
      { op: 'test', path: `/metadata/finalizers/${i}`, value: FINALIZER },
      { op: 'remove', path: `/metadata/finalizers/${i}` },
    ]);
  }
  return { kind: 'Steady' };
}
