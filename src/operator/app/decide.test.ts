import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appManifest } from '../../testing/fixtures.ts';
import type { AppSpec } from '../../core/model.ts';
import { readyBudgetMs } from '../../core/policy/index.ts';
import { decide, podFailure } from './decide.ts';
import { specHash } from './template.ts';
import type { AppWorld, PodView, UpgradeJournal } from './world.ts';

const NOW = 1_000_000_000;
const v1 = appManifest(
  {
    version: '1.0.0',
    image: 'localhost/app:1',
    upgrade: { ...appManifest().spec.upgrade, preUpgrade: '/pre.sh', postUpgrade: '/post.sh' },
  },
  'app',
);
const v2 = appManifest({ ...v1.spec, version: '2.0.0', image: 'localhost/app:2' }, 'app');
const h1 = specHash(v1.spec);
const h2 = specHash(v2.spec);

function pod(name: string, hash: string, fields: Partial<PodView> = {}): PodView {
  return {
    name,
    uid: `uid-${name}-${hash}`,
    hash,
    version: hash === h1 ? '1.0.0' : '2.0.0',
    terminating: false,
    phase: 'Running',
    ready: true,
    readySince: NOW - 60_000,
    running: true,
    restarts: 0,
    createdAt: NOW - 60_000,
    ...fields,
  };
}

function world(
  desired: AppSpec,
  sts?: Partial<NonNullable<AppWorld['sts']>>,
  pods: PodView[] = [pod('app-0', h1)],
): AppWorld {
  const manifest = { ...v1, spec: desired };
  return {
    now: NOW,
    app: { name: 'app', namespace: 'ns', generation: 2, deleting: false },
    desired: { ok: true, manifest, hash: specHash(desired) },
    ...(sts
      ? {
          sts: {
            templateHash: h1,
            upgradeMode: false,
            installed: { version: '1.0.0', hash: h1, spec: v1.spec },
            ...sts,
          },
        }
      : {}),
    members: pods.map((p, i) => ({ name: p.name, ordinal: pods.length - 1 - i, pod: p })),
    execPods: [],
    copyJobs: [],
    copies: [],
  };
}

function journal(fields: Partial<UpgradeJournal> = {}): UpgradeJournal {
  return {
    state: 'Upgrading',
    from: '1.0.0',
    to: '2.0.0',
    fromHash: h1,
    toHash: h2,
    target: v2.spec,
    generation: 2,
    startedAt: 'x',
    preUpgraded: [],
    postUpgraded: [],
    postAttempts: {},
    ...fields,
  };
}

test('no StatefulSet: install; installing: wait for ready, then mark installed', () => {
  assert.equal(decide(world(v1.spec)).kind, 'Install');
  const installing = world(v1.spec, { installed: undefined }, [
    pod('app-0', h1, { ready: false, createdAt: NOW - 1000 }),
  ]);
  assert.equal(decide(installing).kind, 'Wait');
  assert.equal(decide(world(v1.spec, { installed: undefined })).kind, 'MarkInstalled');
});

test('a failing install pod is reported, not retried for ever silently', () => {
  const w = world(v1.spec, { installed: undefined }, [
    pod('app-0', h1, { ready: false, waitingReason: 'ErrImagePull' }),
  ]);
  const step = decide(w);
  assert.equal(step.kind, 'Wait');
  assert.equal(step.kind === 'Wait' && step.failure?.code, 'ImagePullFailed');
});

test('a downgrade without forceUpgrade is refused by the core rules; a namespace switch too', () => {
  const down = appManifest({ ...v1.spec, version: '0.9.0' }).spec;
  assert.deepEqual(decide(world(down, {})), {
    kind: 'Refuse',
    reason: 'DowngradeRefused',
    message: 'version 0.9.0 is lower than the installed 1.0.0: downgrades are refused',
  });
  const moved = { ...v2.spec, package: 'other/notes' };
  assert.equal((decide(world(moved, {})) as { reason?: string }).reason, 'NamespaceSwitchRefused');
});

test('a new version begins an upgrade; then the volume copy, pre-upgrade in the old pod, template switch, member restart', () => {
  assert.equal(decide(world(v2.spec, {})).kind, 'BeginUpgrade');
  assert.deepEqual(decide(world(v2.spec, { journal: journal() })), { kind: 'SnapshotVolumes', member: 'app-0' });
  const copying = journal({ snapshots: { 'app-0': 'copying' } });
  assert.deepEqual(decide(world(v2.spec, { journal: copying })), { kind: 'SnapshotVolumes', member: 'app-0' });
  assert.deepEqual(decide(world(v2.spec, { journal: journal({ snapshots: { 'app-0': 'copied' } }) })), {
    kind: 'PreUpgrade',
    member: 'app-0',
  });
  assert.deepEqual(decide(world(v2.spec, { journal: journal({ preUpgraded: ['app-0'] }) })), {
    kind: 'SwitchTemplate',
    to: 'target',
  });
  const switched = world(v2.spec, {
    journal: journal({ preUpgraded: ['app-0'] }),
    templateHash: h2,
    upgradeMode: true,
  });
  assert.deepEqual(decide(switched), { kind: 'RestartMember', member: 'app-0', uid: `uid-app-0-${h1}` });
});

test('members go from the highest ordinal down, one at a time', () => {
  const pods = [pod('app-1', h1), pod('app-0', h1)];
  const w = world(v2.spec, { journal: journal({ preUpgraded: ['app-1'] }), templateHash: h2, upgradeMode: true }, pods);
  assert.deepEqual(decide(w), { kind: 'RestartMember', member: 'app-1', uid: `uid-app-1-${h1}` });
  const next = world(
    v2.spec,
    { journal: journal({ preUpgraded: ['app-1'], postUpgraded: ['app-1'] }), templateHash: h2, upgradeMode: true },
    [pod('app-1', h2), pod('app-0', h1)],
  );
  assert.deepEqual(decide(next), { kind: 'SnapshotVolumes', member: 'app-0' });
});

test('the new pod gets its post-upgrade script once running, then must be ready; then the upgrade finishes', () => {
  const base = { journal: journal({ preUpgraded: ['app-0'] }), templateHash: h2, upgradeMode: true };
  assert.equal(
    decide(world(v2.spec, base, [pod('app-0', h2, { running: false, ready: false, createdAt: NOW })])).kind,
    'Wait',
  );
  assert.deepEqual(decide(world(v2.spec, base, [pod('app-0', h2, { ready: false, createdAt: NOW })])), {
    kind: 'PostUpgrade',
    member: 'app-0',
  });
  const posted = { ...base, journal: journal({ preUpgraded: ['app-0'], postUpgraded: ['app-0'] }) };
  assert.equal(decide(world(v2.spec, posted, [pod('app-0', h2, { ready: false, createdAt: NOW })])).kind, 'Wait');
  assert.equal(decide(world(v2.spec, posted, [pod('app-0', h2)])).kind, 'FinishUpgrade');
});

test('a pull error, a crash loop or a restart of the new pod rolls back; the rollback reverts the template and the member', () => {
  const base = { journal: journal({ preUpgraded: ['app-0'] }), templateHash: h2, upgradeMode: true };
  for (const bad of [
    { waitingReason: 'ErrImagePull' },
    { waitingReason: 'ImagePullBackOff' },
    { waitingReason: 'CrashLoopBackOff' },
    { restarts: 1 },
  ]) {
    const step = decide(world(v2.spec, base, [pod('app-0', h2, { ready: false, running: false, ...bad })]));
    assert.equal(step.kind, 'StartRollback', JSON.stringify(bad));
  }
  const rolling = {
    journal: journal({ state: 'RollingBack', cause: { code: 'ImagePullFailed', message: 'x' } }),
    templateHash: h2,
    upgradeMode: true,
  };
  assert.deepEqual(decide(world(v2.spec, rolling, [pod('app-0', h2)])), { kind: 'SwitchTemplate', to: 'installed' });
  const reverted = { ...rolling, templateHash: h1, upgradeMode: false };
  assert.deepEqual(decide(world(v2.spec, reverted, [pod('app-0', h2)])), {
    kind: 'RestartMember',
    member: 'app-0',
    uid: `uid-app-0-${h2}`,
  });
  assert.equal(decide(world(v2.spec, reverted, [pod('app-0', h1)])).kind, 'FinishRollback');
});

test('a pull error of the ExecPod before any member was touched aborts instead of rolling back', () => {
  const w = world(v2.spec, { journal: journal({ snapshots: { 'app-0': 'copied' } }) });
  w.execPods = [{ name: 'x', hash: h2, running: false, terminating: false, waitingReason: 'ErrImagePull' }];
  assert.equal(decide(w).kind, 'Abort');
});

test('after a rolled-back upgrade the same spec is not tried again; another change is', () => {
  const last = {
    from: '1.0.0',
    to: '2.0.0',
    toHash: h2,
    outcome: 'RolledBack' as const,
    reason: 'ImagePullFailed',
    message: 'x',
    finishedAt: 'y',
  };
  assert.equal(decide(world(v2.spec, { last })).kind, 'Blocked');
  const v3 = { ...v2.spec, version: '2.0.1' };
  assert.equal(decide(world(v3, { last })).kind, 'BeginUpgrade');
});

test('setting the spec back to the installed version during an upgrade rolls back; other changes wait', () => {
  assert.equal(decide(world(v1.spec, { journal: journal({ preUpgraded: ['app-0'] }) })).kind, 'StartRollback');
});

test('leftover ExecPods and upgrade-mode templates are cleaned up when steady', () => {
  const w = world(v1.spec, {});
  w.execPods = [{ name: 'e', hash: h2, running: true, terminating: false }];
  assert.deepEqual(decide(w), { kind: 'Cleanup', pods: ['e'] });
  assert.deepEqual(decide(world(v1.spec, { upgradeMode: true })), { kind: 'SwitchTemplate', to: 'normal' });
  assert.equal(decide(world(v1.spec, {})).kind, 'Steady');
});

test('the ready budget is the raised probe budget while upgrading; a pod past it has failed', () => {
  const probe = { exec: ['true'], periodSeconds: 2, failureThreshold: 5, timeoutSeconds: 1 };
  const spec = { ...v2.spec, probes: { startup: probe } };
  assert.equal(readyBudgetMs(spec, false), 10_000 + 120_000);
  assert.equal(readyBudgetMs(spec, true), 100_000 + 120_000);
  assert.equal(
    podFailure(pod('p', h2, { ready: false, createdAt: NOW - 200_000 }), 130_000, NOW)?.code,
    'ReadyTimeout',
  );
});

test('molt rollback: the named older version is permitted (no forceUpgrade, no DOWNGRADE warning); another is still refused', () => {
  const installed2 = { installed: { version: '2.0.0', hash: h2, spec: v2.spec }, templateHash: h2 };
  const back = world(v1.spec, installed2, [pod('app-0', h2)]);
  assert.equal(decide(back).kind, 'Refuse', 'without the annotation a downgrade stays refused');
  back.app.rollbackTo = '1.0.0';
  assert.deepEqual(decide(back), { kind: 'BeginUpgrade', warnings: [], rollback: true });
  const other = world(appManifest({ ...v1.spec, version: '0.9.0' }).spec, installed2, [pod('app-0', h2)]);
  other.app.rollbackTo = '1.0.0';
  assert.equal((decide(other) as { reason?: string }).reason, 'DowngradeRefused');
});

test('molt rollback during an upgrade rolls it back now; a used-up permission is cleared when steady', () => {
  const w = world(v1.spec, { journal: journal({ preUpgraded: ['app-0'] }), templateHash: h2, upgradeMode: true }, [
    pod('app-0', h2),
  ]);
  w.app.rollbackTo = '1.0.0';
  assert.equal(decide(w).kind, 'StartRollback');
  const back = journal({ from: '2.0.0', to: '1.0.0', fromHash: h2, toHash: h1, target: v1.spec, rollback: true });
  const rolling = world(v1.spec, { installed: { version: '2.0.0', hash: h2, spec: v2.spec }, journal: back }, [
    pod('app-0', h2),
  ]);
  rolling.app.rollbackTo = '2.0.0';
  assert.notEqual(
    decide(rolling).kind,
    'StartRollback',
    'a rollback operation is not rolled back by its own permission',
  );
  const steady = world(v1.spec, {});
  steady.app.rollbackTo = '1.0.0';
  assert.equal(decide(steady).kind, 'ClearRollbackTo');
});

test('a rollback whose old-version pod restarted once but is ready again finishes; one not ready waits (RollbackStuck)', () => {
  const rolling = {
    journal: journal({ state: 'RollingBack', cause: { code: 'RollbackRequested', message: 'x' } }),
    templateHash: h1,
    upgradeMode: false,
  };
  assert.equal(decide(world(v1.spec, rolling, [pod('app-0', h1, { restarts: 1 })])).kind, 'FinishRollback');
  const stuck = decide(world(v1.spec, rolling, [pod('app-0', h1, { restarts: 1, ready: false })]));
  assert.equal(stuck.kind === 'Wait' && stuck.reason, 'RollbackStuck');
});

// ---- volume copies (data-safe rollback, volume-copy.ts) ----

const copied = { 'app-0': 'copied' as const };

test('no volume copy when snapshotVolumes is off or the app has no volumes: straight to the pre-upgrade script', () => {
  const off = { ...v2.spec, upgrade: { ...v2.spec.upgrade, snapshotVolumes: false } };
  assert.deepEqual(decide(world(off, { journal: journal({ target: off }) })), { kind: 'PreUpgrade', member: 'app-0' });
  const none = { ...v2.spec, volumes: [] };
  assert.deepEqual(decide(world(none, { journal: journal({ target: none }) })), {
    kind: 'PreUpgrade',
    member: 'app-0',
  });
});

test('a failed snapshot Job aborts the upgrade before anything touched the data', () => {
  const w = world(v2.spec, { journal: journal({ snapshots: { 'app-0': 'copying' } }) });
  w.copyJobs = [
    { name: 'j', member: 'app-0', generation: 2, op: 'snapshot', succeeded: false, failed: true, message: 'EACCES' },
  ];
  const step = decide(w);
  assert.equal(step.kind, 'Abort');
  assert.equal(step.kind === 'Abort' && step.cause.code, 'SnapshotFailed');
  assert.match(step.kind === 'Abort' ? step.cause.message : '', /EACCES/);
  // A Job of another generation (an earlier upgrade) says nothing about this one.
  w.copyJobs[0] = { ...w.copyJobs[0]!, generation: 1 };
  assert.equal(decide(w).kind, 'SnapshotVolumes');
});

test('rollback with a copy: hold the member down, wait for its pod to go, restore, release, then the old version', () => {
  const back = (fields: Partial<UpgradeJournal>, sts: Partial<NonNullable<AppWorld['sts']>>, pods: PodView[]) =>
    decide(world(v2.spec, { journal: journal({ state: 'RollingBack', snapshots: copied, ...fields }), ...sts }, pods));
  const crashed = pod('app-0', h2, { ready: false, restarts: 3 });
  // The template goes back first (the old spec), as without copies.
  assert.deepEqual(back({}, { templateHash: h2, upgradeMode: true }, [crashed]), {
    kind: 'SwitchTemplate',
    to: 'installed',
  });
  // Then the member is held (instead of restarted): the old version must not start on the new data.
  assert.deepEqual(back({}, {}, [crashed]), { kind: 'HoldMember', member: 'app-0' });
  // Held in the journal but the StatefulSet not scaled yet (killed in between): hold again.
  assert.deepEqual(back({ restores: { 'app-0': 'held' } }, { replicas: 1 }, [crashed]), {
    kind: 'HoldMember',
    member: 'app-0',
  });
  // Scaled to 0, the pod still going: wait; it never runs beside the restore.
  const held = back({ restores: { 'app-0': 'held' } }, { replicas: 0 }, [{ ...crashed, terminating: true }]);
  assert.equal(held.kind, 'Wait');
  assert.match(held.kind === 'Wait' ? held.message : '', /to stop before its volumes are restored/);
  const gone = world(v2.spec, {
    journal: journal({ state: 'RollingBack', snapshots: copied, restores: { 'app-0': 'held' } }),
    replicas: 0,
  });
  gone.members = [{ name: 'app-0', ordinal: 0 }];
  assert.deepEqual(decide(gone), { kind: 'RestoreVolumes', member: 'app-0' });
  // Restored: released (back to 1 replica); the pod comes back on the old version and must be ready.
  gone.sts!.journal = { ...gone.sts!.journal!, restores: { 'app-0': 'restored' } };
  assert.deepEqual(decide(gone), { kind: 'ReleaseMember', member: 'app-0' });
  assert.deepEqual(back({ restores: { 'app-0': 'restored' } }, { replicas: 1 }, [pod('app-0', h1)]), {
    kind: 'FinishRollback',
  });
});

test('a failed restore keeps the member down (RollbackStuck), never starting the old version on half-restored data', () => {
  const w = world(v2.spec, {
    journal: journal({ state: 'RollingBack', snapshots: copied, restores: { 'app-0': 'restoring' } }),
    replicas: 0,
  });
  w.members = [{ name: 'app-0', ordinal: 0 }];
  w.copyJobs = [
    { name: 'r', member: 'app-0', generation: 2, op: 'restore', succeeded: false, failed: true, message: 'ENOSPC' },
  ];
  const step = decide(w);
  assert.equal(step.kind === 'Wait' && step.reason, 'RollbackStuck');
  assert.match(step.kind === 'Wait' ? step.message : '', /ENOSPC.*stays down/);
});

test('a member whose pod never left the old version is not restored (its volumes are live); no copy, no restore', () => {
  const live = world(v2.spec, { journal: journal({ state: 'RollingBack', snapshots: copied }) }, [pod('app-0', h1)]);
  assert.equal(decide(live).kind, 'FinishRollback');
  const none = world(v2.spec, { journal: journal({ state: 'RollingBack' }) }, [pod('app-0', h2)]);
  assert.deepEqual(decide(none), { kind: 'RestartMember', member: 'app-0', uid: `uid-app-0-${h2}` });
});

test('keepSnapshots: steady prunes the copy claims of all but the newest operations; leftover copy Jobs are removed', () => {
  const claim = (generation: number, kind: 'snapshot' | 'displaced' = 'snapshot') => ({
    name: `data-app-0-molt-g${generation}${kind === 'displaced' ? '-displaced' : ''}`,
    member: 'app-0',
    volume: 'data',
    generation,
    kind,
    createdAt: 'x',
  });
  const w = world(v1.spec, {});
  w.copies = [claim(2), claim(5), claim(5, 'displaced'), claim(3), claim(4)];
  assert.equal(v1.spec.upgrade.keepSnapshots, 3);
  assert.deepEqual(decide(w), { kind: 'PruneSnapshots', claims: ['data-app-0-molt-g2'] });
  const keep1 = { ...v1.spec, upgrade: { ...v1.spec.upgrade, keepSnapshots: 1 } };
  const w1 = world(keep1, { installed: { version: '1.0.0', hash: specHash(keep1), spec: keep1 } });
  w1.copies = w.copies;
  assert.deepEqual(decide(w1), {
    kind: 'PruneSnapshots',
    claims: ['data-app-0-molt-g2', 'data-app-0-molt-g3', 'data-app-0-molt-g4'],
  });
  w.copies = [claim(5)];
  w.copyJobs = [{ name: 'j', member: 'app-0', generation: 5, op: 'snapshot', succeeded: true, failed: false }];
  assert.deepEqual(decide(w), { kind: 'Cleanup', pods: [], jobs: ['j'] });
});
