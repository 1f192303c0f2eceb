import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  nextRolloutAction,
  type RoleRolloutAction,
  type RoleRolloutJournal,
  type RoleRolloutView,
  type RolloutMember,
} from './release-rollout.ts';

/** A member `db-<ordinal>` on `release`; flags: b busy, n not ready, f failed. */
function m(ordinal: number, release: string, flags = ''): RolloutMember {
  return {
    ordinal,
    name: `db-${ordinal}`,
    release,
    busy: flags.includes('b'),
    ready: !flags.includes('n'),
    ...(flags.includes('f')
      ? { failure: { reason: 'ReadyTimeout' as const, message: `db-${ordinal} not ready` } }
      : {}),
  };
}

const up = (extra: Partial<RoleRolloutJournal> = {}): RoleRolloutJournal => ({
  state: 'Upgrading',
  from: 'r1',
  to: 'r2',
  touched: [],
  hooked: [],
  reverted: [],
  roleHooked: false,
  ...extra,
});
const back = (extra: Partial<RoleRolloutJournal> = {}): RoleRolloutJournal => up({ state: 'RollingBack', ...extra });

interface Row {
  name: string;
  journal: RoleRolloutJournal;
  members: RolloutMember[];
  /** The role's template release (an engine with templates); absent: none. */
  target?: string;
  size?: number;
  partition?: number;
  maxUnavailable?: number;
  pauseRequested?: boolean;
  want: RoleRolloutAction;
}

const ROWS: Row[] = [
  // Upgrading, no template (the local runner): highest ordinal first, each hooked before the next starts.
  {
    name: 'nothing moved: replace the highest ordinal',
    journal: up(),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r1')],
    want: { kind: 'Replace', ordinal: 2, member: 'db-2', revert: false },
  },
  {
    name: 'the highest is being replaced: wait for it (maxUnavailable 1)',
    journal: up({ touched: [2] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r2', 'bn')],
    want: { kind: 'Wait', message: 'db-2: waiting for Ready' },
  },
  {
    name: 'the highest moved and ready: its pod hook before the next member',
    journal: up({ touched: [2] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r2')],
    want: { kind: 'MemberHook', ordinal: 2, member: 'db-2', flag: '--pod_upgraded' },
  },
  {
    name: 'the highest hooked: the next one down',
    journal: up({ touched: [2], hooked: [2] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r2')],
    want: { kind: 'Replace', ordinal: 1, member: 'db-1', revert: false },
  },
  {
    name: 'a touched member failed: Fail with its reason',
    journal: up({ touched: [2, 1], hooked: [2] }),
    members: [m(0, 'r1'), m(1, 'r1', 'f'), m(2, 'r2')],
    want: { kind: 'Fail', ordinal: 1, reason: 'ReadyTimeout', message: 'db-1 not ready' },
  },
  {
    name: 'a failure on a member never touched is not this rollout’s',
    journal: up(),
    members: [m(0, 'r1'), m(1, 'r1', 'f')],
    size: 2,
    want: { kind: 'Replace', ordinal: 1, member: 'db-1', revert: false },
  },
  {
    name: 'every member moved and hooked: the role hook',
    journal: up({ touched: [0, 1, 2], hooked: [0, 1, 2] }),
    members: [m(0, 'r2'), m(1, 'r2'), m(2, 'r2')],
    want: { kind: 'RoleHook', flag: '--role_upgraded' },
  },
  {
    name: 'the role hook ran: done',
    journal: up({ touched: [0, 1, 2], hooked: [0, 1, 2], roleHooked: true }),
    members: [m(0, 'r2'), m(1, 'r2'), m(2, 'r2')],
    want: { kind: 'Done' },
  },
  {
    name: 'members already on the new release (a resumed rollout) need nothing but the role hook',
    journal: up(),
    members: [m(0, 'r2'), m(1, 'r2'), m(2, 'r2')],
    want: { kind: 'RoleHook', flag: '--role_upgraded' },
  },
  {
    name: 'partition 2: only ordinal 2 is replaced, then the role hook',
    journal: up({ touched: [2], hooked: [2] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r2')],
    partition: 2,
    want: { kind: 'RoleHook', flag: '--role_upgraded' },
  },
  {
    name: 'maxUnavailable 2: a second member starts while one is in flight',
    journal: up({ touched: [2] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r2', 'bn')],
    maxUnavailable: 2,
    want: { kind: 'Replace', ordinal: 1, member: 'db-1', revert: false },
  },
  {
    name: 'maxUnavailable 2: the second member starts before the first one’s hook',
    journal: up({ touched: [2] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r2')],
    maxUnavailable: 2,
    want: { kind: 'Replace', ordinal: 1, member: 'db-1', revert: false },
  },
  {
    name: 'maxUnavailable 2, one ready and one in flight: the ready one’s hook, not a third member',
    journal: up({ touched: [2, 1] }),
    members: [m(0, 'r1'), m(1, 'r2', 'bn'), m(2, 'r2')],
    maxUnavailable: 2,
    want: { kind: 'MemberHook', ordinal: 2, member: 'db-2', flag: '--pod_upgraded' },
  },
  {
    name: 'maxUnavailable 2 with two in flight: wait for the first',
    journal: up({ touched: [2, 1] }),
    members: [m(0, 'r1'), m(1, 'r2', 'bn'), m(2, 'r2', 'bn')],
    maxUnavailable: 2,
    want: { kind: 'Wait', message: 'db-2: waiting for Ready' },
  },
  {
    name: 'a pause request starts no further member',
    journal: up({ touched: [2], hooked: [2] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r2')],
    pauseRequested: true,
    want: { kind: 'Wait', message: 'paused before db-1', paused: true },
  },
  {
    name: 'a pause request still lets the member in flight get its hook',
    journal: up({ touched: [2] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r2')],
    pauseRequested: true,
    want: { kind: 'MemberHook', ordinal: 2, member: 'db-2', flag: '--pod_upgraded' },
  },
  {
    name: 'paused by a failure: no action at all',
    journal: up({ touched: [2], paused: { ordinal: 2, reason: 'ReadyTimeout' } }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r2')],
    want: { kind: 'Wait', message: 'paused at db member 2: ReadyTimeout', paused: true },
  },
  // With a template (the operator): the template moves first and last.
  {
    name: 'template on the old release: set it before replacing anyone',
    journal: up(),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r1')],
    target: 'r1',
    want: { kind: 'SetTarget', release: 'r2' },
  },
  {
    name: 'a member missing (its pod not recreated yet): wait for it',
    journal: up({ touched: [2] }),
    members: [m(0, 'r1'), m(1, 'r1')],
    target: 'r2',
    want: { kind: 'Wait', message: 'db member 2: waiting for its pod' },
  },
  {
    name: 'a member going away on the old release: wait',
    journal: up({ touched: [2] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r1', 'b')],
    target: 'r2',
    want: { kind: 'Wait', message: 'db-2: terminating' },
  },
  // Rolling back: exactly the touched members, highest first.
  {
    name: 'back: the highest touched member first',
    journal: back({ touched: [1, 2] }),
    members: [m(0, 'r1'), m(1, 'r2'), m(2, 'r2')],
    want: { kind: 'Replace', ordinal: 2, member: 'db-2', revert: true },
  },
  {
    name: 'back: a reverted member gets its hook before the next',
    journal: back({ touched: [1, 2] }),
    members: [m(0, 'r1'), m(1, 'r2'), m(2, 'r1')],
    want: { kind: 'MemberHook', ordinal: 2, member: 'db-2', flag: '--pod_reverted' },
  },
  {
    name: 'back: then the next touched one',
    journal: back({ touched: [1, 2], reverted: [2] }),
    members: [m(0, 'r1'), m(1, 'r2'), m(2, 'r1')],
    want: { kind: 'Replace', ordinal: 1, member: 'db-1', revert: true },
  },
  {
    name: 'back: a member whose revert failed is passed over, the next one goes back',
    journal: back({ touched: [1, 2] }),
    members: [m(0, 'r1'), m(1, 'r2'), m(2, 'r2', 'f')],
    want: { kind: 'Replace', ordinal: 1, member: 'db-1', revert: true },
  },
  {
    name: 'back: the others reverted, one failed: the role hook still',
    journal: back({ touched: [1, 2], reverted: [1] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r2', 'f')],
    want: { kind: 'RoleHook', flag: '--role_reverted' },
  },
  {
    name: 'back: a member being reverted is waited for',
    journal: back({ touched: [2] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r1', 'bn')],
    want: { kind: 'Wait', message: 'db-2: waiting for Ready on r1' },
  },
  {
    name: 'back: every touched member reverted: the role hook',
    journal: back({ touched: [1, 2], reverted: [1, 2] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r1')],
    want: { kind: 'RoleHook', flag: '--role_reverted' },
  },
  {
    name: 'back: nothing touched: done without a role hook',
    journal: back(),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r1')],
    want: { kind: 'Done' },
  },
  {
    name: 'back with a template on the new release: the template first',
    journal: back({ touched: [2] }),
    members: [m(0, 'r1'), m(1, 'r1'), m(2, 'r2')],
    target: 'r2',
    want: { kind: 'SetTarget', release: 'r1' },
  },
];

for (const row of ROWS) {
  test(`next rollout action: ${row.name}`, () => {
    const view: RoleRolloutView = {
      name: 'db',
      members: row.size ?? 3,
      journal: row.journal,
      current: new Map(row.members.map((x) => [x.ordinal, x])),
      partition: row.partition ?? 0,
      ...(row.target !== undefined ? { target: row.target } : {}),
      ...(row.maxUnavailable !== undefined ? { maxUnavailable: row.maxUnavailable } : {}),
      ...(row.pauseRequested !== undefined ? { pauseRequested: row.pauseRequested } : {}),
    };
    assert.deepEqual(nextRolloutAction(view), row.want);
  });
}
