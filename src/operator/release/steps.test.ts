import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memberFailure, nextRoleAction, type RolePod, type RoleView } from './steps.ts';
import type { RoleJournal } from './template.ts';
import { roleJournal, rolePod } from '../../testing/fixtures.ts';

const NOW = 1_000_000;

const pod = (ordinal: number, release: string, extra: Partial<RolePod> = {}) =>
  rolePod('db-primary', ordinal, release, extra);
const journal = roleJournal;

function view(j: RoleJournal, pods: RolePod[], templateRelease = 'r1'): RoleView {
  return {
    name: 'primary',
    members: 2,
    templateRelease,
    journal: j,
    pods: new Map(pods.map((p) => [p.ordinal, p])),
    budgetMs: 60_000,
    now: NOW,
    partition: 0,
  };
}

test('upgrade: template first, then the highest ordinal, its hook, then the next; the role hook last', () => {
  assert.deepEqual(nextRoleAction(view(journal(), [pod(0, 'r1'), pod(1, 'r1')])), {
    kind: 'SetTemplate',
    release: 'r2',
  });
  assert.deepEqual(nextRoleAction(view(journal(), [pod(0, 'r1'), pod(1, 'r1')], 'r2')), {
    kind: 'DeletePod',
    ordinal: 1,
    pod: 'db-primary-1',
    uid: 'u1-r1',
    revert: false,
  });
  assert.equal(
    nextRoleAction(view(journal({ touched: [1] }), [pod(0, 'r1'), pod(1, 'r2', { ready: false })], 'r2')).kind,
    'Wait',
  );
  assert.deepEqual(nextRoleAction(view(journal({ touched: [1] }), [pod(0, 'r1'), pod(1, 'r2')], 'r2')), {
    kind: 'PodHook',
    ordinal: 1,
    pod: 'db-primary-1',
    flag: '--pod_upgraded',
  });
  assert.equal(
    (
      nextRoleAction(view(journal({ touched: [1], hooked: [1] }), [pod(0, 'r1'), pod(1, 'r2')], 'r2')) as {
        ordinal: number;
      }
    ).ordinal,
    0,
  );
  const done = journal({ touched: [1, 0], hooked: [1, 0] });
  assert.deepEqual(nextRoleAction(view(done, [pod(0, 'r2'), pod(1, 'r2')], 'r2')), {
    kind: 'RoleHook',
    flag: '--role_upgraded',
  });
  assert.deepEqual(nextRoleAction(view({ ...done, roleHooked: true }, [pod(0, 'r2'), pod(1, 'r2')], 'r2')), {
    kind: 'Done',
  });
});

test('upgrade: a pull error, a restart or a passed budget fails the touched member', () => {
  const j = journal({ touched: [1], times: { 1: { restartedAt: new Date(NOW - 1000).toISOString() } } });
  const pulled = nextRoleAction(
    view(j, [pod(0, 'r1'), pod(1, 'r2', { ready: false, running: false, waitingReason: 'ImagePullBackOff' })], 'r2'),
  );
  assert.deepEqual(pulled, {
    kind: 'Fail',
    ordinal: 1,
    reason: 'ImagePullFailed',
    message: 'pod db-primary-1: ImagePullBackOff',
  });
  assert.equal(
    memberFailure(pod(1, 'r2', { ready: false, restarts: 1 }), NOW, 60_000, NOW)?.reason,
    'ContainerRestarted',
  );
  assert.equal(memberFailure(pod(1, 'r2', { ready: false }), NOW - 61_000, 60_000, NOW)?.reason, 'ReadyTimeout');
  assert.equal(memberFailure(pod(1, 'r2', { ready: false }), NOW - 1000, 60_000, NOW), undefined);
});

test('rollback: template back, exactly the touched members from the highest down, their hooks, the role hook', () => {
  const j = journal({ state: 'RollingBack', touched: [1] });
  assert.deepEqual(nextRoleAction(view(j, [pod(0, 'r1'), pod(1, 'r2')], 'r2')), { kind: 'SetTemplate', release: 'r1' });
  assert.deepEqual(nextRoleAction(view(j, [pod(0, 'r1'), pod(1, 'r2')])), {
    kind: 'DeletePod',
    ordinal: 1,
    pod: 'db-primary-1',
    uid: 'u1-r2',
    revert: true,
  });
  assert.deepEqual(nextRoleAction(view(j, [pod(0, 'r1'), pod(1, 'r1')])), {
    kind: 'PodHook',
    ordinal: 1,
    pod: 'db-primary-1',
    flag: '--pod_reverted',
  });
  assert.deepEqual(nextRoleAction(view({ ...j, reverted: [1] }, [pod(0, 'r1'), pod(1, 'r1')])), {
    kind: 'RoleHook',
    flag: '--role_reverted',
  });
  assert.deepEqual(nextRoleAction(view(journal({ state: 'RollingBack' }), [pod(0, 'r1'), pod(1, 'r1')])), {
    kind: 'Done',
  });
});

test('maxUnavailable 2: the two highest members restart at once, the next only when one of them is done', () => {
  const four = (j: RoleJournal, pods: RolePod[]) => ({ ...view(j, pods, 'r2'), members: 4, maxUnavailable: 2 });
  const old = [0, 1, 2, 3].map((o) => pod(o, 'r1'));
  assert.deepEqual(nextRoleAction(four(journal(), old)), {
    kind: 'DeletePod',
    ordinal: 3,
    pod: 'db-primary-3',
    uid: 'u3-r1',
    revert: false,
  });
  const oneGone = [pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r1'), pod(3, 'r1', { terminating: true })];
  assert.deepEqual(nextRoleAction(four(journal({ touched: [3] }), oneGone)), {
    kind: 'DeletePod',
    ordinal: 2,
    pod: 'db-primary-2',
    uid: 'u2-r1',
    revert: false,
  });
  const twoBusy = [pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r1', { terminating: true }), pod(3, 'r2', { ready: false })];
  assert.equal(
    nextRoleAction(four(journal({ touched: [3, 2] }), twoBusy)).kind,
    'Wait',
    'ordinal 1 waits while 2 are in flight',
  );
  const threeReady = [pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r2', { ready: false }), pod(3, 'r2')];
  assert.deepEqual(
    nextRoleAction(four(journal({ touched: [3, 2] }), threeReady)),
    { kind: 'PodHook', ordinal: 3, pod: 'db-primary-3', flag: '--pod_upgraded' },
    'the hook of a ready member comes first',
  );
  assert.deepEqual(nextRoleAction(four(journal({ touched: [3, 2], hooked: [3] }), threeReady)), {
    kind: 'DeletePod',
    ordinal: 1,
    pod: 'db-primary-1',
    uid: 'u1-r1',
    revert: false,
  });
});

test('a pause request starts no further member but lets the one in flight finish its hook', () => {
  const paused = (j: RoleJournal, pods: RolePod[]) => ({ ...view(j, pods, 'r2'), pauseRequested: true });
  assert.deepEqual(nextRoleAction(paused(journal(), [pod(0, 'r1'), pod(1, 'r1')])), {
    kind: 'Wait',
    message: 'paused before db-primary-1',
    paused: true,
  });
  assert.equal(nextRoleAction(paused(journal({ touched: [1] }), [pod(0, 'r1'), pod(1, 'r2')])).kind, 'PodHook');
  assert.deepEqual(nextRoleAction(paused(journal({ touched: [1], hooked: [1] }), [pod(0, 'r1'), pod(1, 'r2')])), {
    kind: 'Wait',
    message: 'paused before db-primary-0',
    paused: true,
  });
});

test('a rollout paused by a failure takes no action at all, not even the hook of a ready member', () => {
  const j = journal({
    touched: [1],
    paused: { role: 'primary', ordinal: 1, reason: 'ContainerCrashLooping', message: 'x', at: '' },
  });
  assert.deepEqual(nextRoleAction(view(j, [pod(0, 'r1'), pod(1, 'r2')], 'r2')), {
    kind: 'Wait',
    message: 'paused at primary member 1: ContainerCrashLooping',
    paused: true,
  });
});
