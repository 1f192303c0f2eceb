/**
 * The side effects of a release app's rollout: journal writes on a role's StatefulSet
 * (always before the act they record), template switches, pod deletions (UID precondition),
 * lifecycle hooks by exec, Events. Each function takes one step and returns.
 */
import type { Reason } from '../../core/policy/index.ts';
import type { ReleaseAppManifest, ReleaseManifest } from '../../core/release-schema.ts';
import { roleOf } from '../../core/release.ts';
import type { EventRecorder, KubeClient, ResourceApi } from '../../engines/kubernetes/index.ts';
import { RESOURCES } from '../../engines/kubernetes/index.ts';
import { boundary } from '../runtime/kill-points.ts';
import type { AppObject } from '../app/observe.ts';
import type { AppRef } from '../app/template.ts';
import type { CopyJobView } from '../app/world.ts';
import { actOnCopies } from './copy-actions.ts';
import type { RoleSet } from './observe.ts';
import { hookDir, runHookOnce } from './hooks.ts';
import { ACTING_ROLE_ACTIONS, releaseKillPoint, type RoleAction } from './steps.ts';
import { RELEASE_ANNOTATIONS, roleSetFor, type RoleJournal } from './template.ts';

/** What an action needs. */
export interface ReleaseCtx {
  api: ResourceApi;
  client: KubeClient;
  events: EventRecorder;
  app: AppObject;
  ref: AppRef;
  manifest: ReleaseAppManifest;
  /** Releases by name: the installed one and the target. */
  releases: Map<string, ReleaseManifest>;
  signal: AbortSignal;
  /** molt's image (the operator's own), for the volume copy Jobs. */
  copyImage: () => Promise<string>;
  /** The app's copy Jobs as observed this pass. */
  copyJobs: CopyJobView[];
}

/** Records an Event about the App (never fatal). */
export async function event(c: ReleaseCtx, type: 'Normal' | 'Warning', reason: Reason, note: string): Promise<void> {
  await c.events.record({ regarding: c.app, type, reason, action: reason, note });
}

/** Writes annotations on a role's StatefulSet (null removes one). */
export async function annotate(c: ReleaseCtx, set: string, values: Record<string, unknown>): Promise<void> {
  const annotations = Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, v === null ? null : JSON.stringify(v)]),
  );
  await c.api.mergePatch(RESOURCES.statefulsets, c.ref.namespace, set, { metadata: { annotations } });
}

/** Writes a role's journal. */
export function writeJournal(c: ReleaseCtx, set: RoleSet, j: RoleJournal): Promise<void> {
  set.journal = j;
  return annotate(c, set.name, { [RELEASE_ANNOTATIONS.rollout]: j });
}

function release(c: ReleaseCtx, name: string): ReleaseManifest {
  const r = c.releases.get(name);
  if (!r) throw new Error(`release ${name} is not known to this pass`);
  return r;
}

/** Replaces a role's pod template with the one of `releaseName` (raised budget when upgrading). */
export async function setTemplate(c: ReleaseCtx, set: RoleSet, releaseName: string, upgrading: boolean): Promise<void> {
  const members = c.manifest.spec.roles.find((r) => r.name === set.role)?.members ?? set.replicas;
  const sts = roleSetFor(c.ref, c.manifest, release(c, releaseName), set.role, members, upgrading);
  await c.api.jsonPatch(RESOURCES.statefulsets, c.ref.namespace, set.name, [
    { op: 'replace', path: '/spec/template', value: sts.spec?.template },
  ]);
}

/** Runs a role's lifecycle script with `flag` in one pod, exactly once per rollout (hooks.ts); exit code and output tail. */
export async function hook(
  c: ReleaseCtx,
  j: RoleJournal,
  releaseName: string,
  role: string,
  pod: string,
  flag: string,
): Promise<{ ok: boolean; note: string }> {
  const script = roleOf(release(c, releaseName), role).lifecycle;
  if (!script) return { ok: true, note: `${pod}: no lifecycle script` };
  const res = await runHookOnce(c.client, c.ref.namespace, pod, hookDir(j.startedAt, flag), [script, flag], c.signal);
  const ok = res.exitCode === 0;
  const note = `${pod}: ${script} ${flag} ${res.exitCode === undefined ? 'did not finish' : `exited ${res.exitCode}`}${ok ? '' : `: ${res.stderr.trim().slice(-300)}`}`;
  await event(c, ok ? 'Normal' : 'Warning', ok ? 'HookSucceeded' : 'HookFailed', note);
  return { ok, note };
}

/** The hook on every pod of a role, all at once; failures are recorded, not fatal. */
export async function roleHook(
  c: ReleaseCtx,
  set: RoleSet,
  j: RoleJournal,
  releaseName: string,
  flag: string,
): Promise<void> {
  await Promise.all(
    [...set.pods.values()].map((p) =>
      hook(c, j, releaseName, set.role, p.name, flag).catch((e: unknown) => {
        if (c.signal.aborted) throw e;
        return event(c, 'Warning', 'HookFailed', `${p.name}: ${flag}: ${String(e)}`);
      }),
    ),
  );
}

/** Takes one action on a role; a Fail is returned to the caller (it decides the rollback). */
export async function actOnRole(c: ReleaseCtx, set: RoleSet, a: RoleAction): Promise<RoleAction> {
  const acting = isActing(a);
  if (acting) boundary(releaseKillPoint(a.kind), 'before');
  const done = await act(c, set, a);
  // A hook's `after` lies between its run and the journal entry that records it (in act).
  if (acting && a.kind !== 'PodHook' && a.kind !== 'RoleHook') boundary(releaseKillPoint(a.kind), 'after');
  return done;
}

function isActing(a: RoleAction): a is Extract<RoleAction, { kind: (typeof ACTING_ROLE_ACTIONS)[number] }> {
  return (ACTING_ROLE_ACTIONS as readonly string[]).includes(a.kind);
}

async function act(c: ReleaseCtx, set: RoleSet, a: RoleAction): Promise<RoleAction> {
  const j = set.journal;
  if (!j) return { kind: 'Done' };
  const now = new Date().toISOString();
  const time = (ordinal: number, key: 'restartedAt' | 'upgradedAt' | 'revertedAt') => ({
    ...j.times,
    [ordinal]: { ...j.times[ordinal], [key]: now },
  });
  switch (a.kind) {
    case 'SetTemplate':
      await setTemplate(c, set, a.release, j.state === 'Upgrading');
      return a;
    case 'DeletePod':
      if (!a.revert)
        await writeJournal(c, set, {
          ...j,
          touched: [...new Set([...j.touched, a.ordinal])],
          times: time(a.ordinal, 'restartedAt'),
        });
      await c.api.delete(RESOURCES.pods, c.ref.namespace, a.pod, { uid: a.uid });
      await event(
        c,
        'Normal',
        a.revert ? 'MemberReverting' : 'MemberRestarted',
        `${a.pod} (role ${set.role}, ordinal ${a.ordinal}) restarted onto ${a.revert ? j.from : j.to} at ${now}`,
      );
      return a;
    case 'PodHook': {
      const res = await hook(c, j, a.flag === '--pod_upgraded' ? j.to : j.from, set.role, a.pod, a.flag);
      boundary(releaseKillPoint(a.kind), 'after');
      if (!res.ok && a.flag === '--pod_upgraded')
        return { kind: 'Fail', ordinal: a.ordinal, reason: 'HookFailed', message: res.note };
      const up = a.flag === '--pod_upgraded';
      await writeJournal(
        c,
        set,
        up
          ? { ...j, hooked: [...j.hooked, a.ordinal], times: time(a.ordinal, 'upgradedAt') }
          : { ...j, reverted: [...j.reverted, a.ordinal], times: time(a.ordinal, 'revertedAt') },
      );
      await event(
        c,
        'Normal',
        up ? 'MemberUpgraded' : 'MemberReverted',
        `${a.pod} (role ${set.role}, ordinal ${a.ordinal}) ${up ? `runs ${j.to}` : `back on ${j.from}`} at ${now}`,
      );
      return a;
    }
    case 'SnapshotVolumes':
    case 'HoldMembers':
    case 'RestoreVolumes':
    case 'ReleaseMembers':
      return actOnCopies(c, set, j, a);
    case 'RoleHook':
      await roleHook(c, set, j, a.flag === '--role_upgraded' ? j.to : j.from, a.flag);
      boundary(releaseKillPoint(a.kind), 'after');
      await writeJournal(c, set, { ...j, roleHooked: true });
      await event(
        c,
        'Normal',
        a.flag === '--role_upgraded' ? 'RoleUpgraded' : 'RoleReverted',
        `role ${set.role} ${a.flag === '--role_upgraded' ? `runs ${j.to}` : `back on ${j.from}`} at ${now}`,
      );
      return a;
    default:
      return a;
  }
}
