// The volume copies of a release app's members, pure: a copy before a member is replaced, and
// going back hold → restore → release before a reverted member starts (copy-steps.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CopyJobView } from '../app/world.ts';
import { nextRoleAction, type RolePod, type RoleView } from './steps.ts';
import { copiesToPrune } from './copy-steps.ts';
import type { InstalledRelease, RoleJournal } from './template.ts';
import { roleJournal, rolePod } from '../../testing/fixtures.ts';

const SET = 'shop-db';
const m = (o: number) => `${SET}-${o}`;

const pod = (ordinal: number, release: string, extra: Partial<RolePod> = {}) => rolePod(SET, ordinal, release, extra);
const journal = (extra: Partial<RoleJournal> = {}) => roleJournal({ generation: 4, ...extra });

function job(member: string, op: 'snapshot' | 'restore', extra: Partial<CopyJobView> = {}): CopyJobView {
  return { name: `${member}-molt-${op}-g4`, member, generation: 4, op, succeeded: false, failed: false, ...extra };
}

function view(
  j: RoleJournal,
  pods: RolePod[],
  o: { template?: string; replicas?: number; jobs?: CopyJobView[]; snapshot?: boolean; copies?: boolean } = {},
): RoleView {
  return {
    name: 'db',
    members: 3,
    templateRelease: o.template ?? (j.state === 'Upgrading' ? j.to : j.from),
    journal: j,
    pods: new Map(pods.map((p) => [p.ordinal, p])),
    budgetMs: 60_000,
    now: 1_000_000,
    partition: 0,
    ...(o.copies === false
      ? {}
      : {
          copies: {
            setName: SET,
            generation: 4,
            snapshot: o.snapshot ?? true,
            replicas: o.replicas ?? 3,
            jobs: o.jobs ?? [],
          },
        }),
  };
}

const on = (release: string) => [pod(0, 'r1'), pod(1, 'r1'), pod(2, release)];

test('upgrading: a member is copied before its pod is replaced, then replaced; none without copies', () => {
  const pods = [pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r1')];
  assert.deepEqual(nextRoleAction(view(journal(), pods)), { kind: 'SnapshotVolumes', members: [m(2)] });
  // The Job runs: the same step (it waits for the Job); copied: the pod is replaced.
  assert.deepEqual(
    nextRoleAction(view(journal({ snapshots: { [m(2)]: 'copying' } }), pods, { jobs: [job(m(2), 'snapshot')] })),
    { kind: 'SnapshotVolumes', members: [m(2)] },
  );
  assert.equal(nextRoleAction(view(journal({ snapshots: { [m(2)]: 'copied' } }), pods)).kind, 'DeletePod');
  // snapshotVolumes off, or a journal without an operation: replaced at once.
  assert.equal(nextRoleAction(view(journal(), pods, { snapshot: false })).kind, 'DeletePod');
  assert.equal(nextRoleAction(view(journal(), pods, { copies: false })).kind, 'DeletePod');
  // The template switches first, as without copies.
  assert.equal(nextRoleAction(view(journal(), pods, { template: 'r1' })).kind, 'SetTemplate');
});

test('upgrading with maxUnavailable 2: the members replaced together are copied together, each before its replacement', () => {
  const pods = [pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r1')];
  const wide = (j: RoleJournal, ps: RolePod[]) => ({ ...view(j, ps), maxUnavailable: 2 });
  assert.deepEqual(nextRoleAction(wide(journal(), pods)), { kind: 'SnapshotVolumes', members: [m(2), m(1)] });
  const both = journal({ snapshots: { [m(2)]: 'copied', [m(1)]: 'copied' } });
  assert.equal(nextRoleAction(wide(both, pods)).kind, 'DeletePod');
  // Member 2 restarting: member 1 goes at once (its copy is there); member 0 is copied only when its turn comes.
  const j2 = { ...both, touched: [2] };
  const restarting = [pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r2', { ready: false })];
  assert.deepEqual(nextRoleAction(wide(j2, restarting)), {
    kind: 'DeletePod',
    ordinal: 1,
    pod: m(1),
    uid: 'u1-r1',
    revert: false,
  });
  const j3 = { ...both, touched: [2, 1], hooked: [2] };
  const oneDone = [pod(0, 'r1'), pod(1, 'r2', { ready: false }), pod(2, 'r2')];
  assert.deepEqual(nextRoleAction(wide(j3, oneDone)), { kind: 'SnapshotVolumes', members: [m(0)] });
});

test('upgrading: a failed copy fails the member (SnapshotFailed) before anything of it is touched', () => {
  const pods = [pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r1')];
  const a = nextRoleAction(
    view(journal({ snapshots: { [m(2)]: 'copying' } }), pods, {
      jobs: [job(m(2), 'snapshot', { failed: true, message: 'no space left' })],
    }),
  );
  assert.equal(a.kind, 'Fail');
  assert.ok(a.kind === 'Fail' && a.reason === 'SnapshotFailed' && /no space left/.test(a.message));
});

test('rolling back: template first, then the copied touched members are held, restored highest first, then released', () => {
  const copied = { [m(1)]: 'copied', [m(2)]: 'copied' } as const;
  const j = journal({ state: 'RollingBack', touched: [2, 1], snapshots: copied });
  const both = [pod(0, 'r1'), pod(1, 'r2'), pod(2, 'r2')];
  assert.deepEqual(nextRoleAction(view(j, both, { template: 'r2' })), { kind: 'SetTemplate', release: 'r1' });
  assert.deepEqual(nextRoleAction(view(j, both)), { kind: 'HoldMembers', members: [m(2), m(1)], replicas: 1 });
  const held = { ...j, restores: { [m(2)]: 'held', [m(1)]: 'held' } } as RoleJournal;
  // Held in the journal but not scaled yet (killed in between): scale again.
  assert.equal(nextRoleAction(view(held, both)).kind, 'HoldMembers');
  // Scaled: the pods must be gone before a restore.
  const w = nextRoleAction(view(held, both, { replicas: 1 }));
  assert.equal(w.kind, 'Wait');
  assert.match(w.kind === 'Wait' ? w.message : '', /waiting for pod shop-db-2 to stop/);
  const gone = [pod(0, 'r1')];
  assert.deepEqual(nextRoleAction(view(held, gone, { replicas: 1 })), {
    kind: 'RestoreVolumes',
    ordinal: 2,
    member: m(2),
  });
  const one = { ...held, restores: { [m(2)]: 'restored', [m(1)]: 'held' } } as RoleJournal;
  assert.deepEqual(nextRoleAction(view(one, gone, { replicas: 1 })), {
    kind: 'RestoreVolumes',
    ordinal: 1,
    member: m(1),
  });
  const all = { ...held, restores: { [m(2)]: 'restored', [m(1)]: 'restored' } } as RoleJournal;
  assert.deepEqual(nextRoleAction(view(all, gone, { replicas: 1 })), { kind: 'ReleaseMembers', replicas: 3 });
  // Released: the members come back from the old template, and the core's rule goes on (their hooks).
  const back = [pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r1')];
  assert.deepEqual(nextRoleAction(view(all, back)), {
    kind: 'PodHook',
    ordinal: 2,
    pod: m(2),
    flag: '--pod_reverted',
  });
});

test('rolling back: a failed restore keeps the member down (RollbackStuck); a member without a copy or still on the old release is only replaced', () => {
  const j = journal({
    state: 'RollingBack',
    touched: [2],
    snapshots: { [m(2)]: 'copied' },
    restores: { [m(2)]: 'restoring' },
  });
  const a = nextRoleAction(
    view(j, [pod(0, 'r1'), pod(1, 'r1')], {
      replicas: 2,
      jobs: [job(m(2), 'restore', { failed: true, message: 'tar: short read' })],
    }),
  );
  assert.deepEqual(a.kind === 'Wait' && a.reason, 'RollbackStuck');
  assert.match(a.kind === 'Wait' ? a.message : '', /stays down.*delete the Job/);
  // No copy: replaced as before (the core's rule).
  const none = journal({ state: 'RollingBack', touched: [2] });
  assert.equal(nextRoleAction(view(none, on('r2'))).kind, 'DeletePod');
  // Copied, but killed before its pod was deleted: it never ran r2, its volumes are live.
  const live = journal({ state: 'RollingBack', touched: [2], snapshots: { [m(2)]: 'copied' } });
  assert.equal(nextRoleAction(view(live, on('r1'))).kind, 'PodHook');
});

test('keepSnapshots prunes per role the operations beyond it; stray copy Jobs go', () => {
  const installed = {
    app: {},
    release: {
      spec: {
        roles: [
          { name: 'db', upgrade: { keepSnapshots: 1 } },
          { name: 'web', upgrade: { keepSnapshots: 3 } },
        ],
      },
    },
  } as unknown as InstalledRelease;
  const claim = (member: string, generation: number) => ({
    name: `data-${member}-molt-g${generation}`,
    member,
    volume: 'data',
    generation,
    kind: 'snapshot' as const,
    createdAt: '',
  });
  const copies = [claim('shop-db-0', 2), claim('shop-db-0', 5), claim('shop-web-0', 2), claim('shop-web-0', 5)];
  assert.deepEqual(copiesToPrune('shop', installed, [job(m(0), 'snapshot')], copies), {
    jobs: [`${m(0)}-molt-snapshot-g4`],
    claims: ['data-shop-db-0-molt-g2'],
  });
});
