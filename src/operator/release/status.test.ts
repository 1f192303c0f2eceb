import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReleaseWorld, RoleSet } from './observe.ts';
import { releaseStatusOf } from './status.ts';
import type { RolePod } from './steps.ts';
import type { RoleJournal } from './template.ts';
import { rolePod } from '../../testing/fixtures.ts';

const NOW = '2026-01-01T00:00:00.000Z';

const pod = (set: string, ordinal: number, release: string): RolePod => rolePod(set, ordinal, release, { uid: 'u' });

function world(journal?: RoleJournal, last?: RoleSet['last']): ReleaseWorld {
  const release = {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'Release',
    metadata: { name: 'r1', labels: {} },
    spec: { package: 'a/b', version: '1.0.0', roles: [] },
  } as never;
  const set: RoleSet = {
    role: 'primary',
    name: 'db-primary',
    replicas: 2,
    templateRelease: 'r1',
    pods: new Map([
      [0, pod('db-primary', 0, 'r1')],
      [1, pod('db-primary', 1, 'r2')],
    ]),
    installed: { app: { release: 'r1', roles: [{ name: 'primary', members: 2 }] } as never, release },
    ...(journal ? { journal } : {}),
    ...(last ? { last } : {}),
  };
  return {
    now: 0,
    desired: { ok: false, reason: 'InvalidSpec', message: '' },
    sets: new Map([['primary', set]]),
    copyJobs: [],
    copies: [],
  };
}

const journal: RoleJournal = {
  state: 'Upgrading',
  from: 'r1',
  to: 'r2',
  startedAt: NOW,
  touched: [1],
  hooked: [1],
  reverted: [],
  roleHooked: false,
  times: { 1: { restartedAt: NOW, upgradedAt: NOW } },
};

test('a rollout in flight: updating, upgradeInfo, members upgraded / not yet, with their times', () => {
  const s = releaseStatusOf(world(journal), { kind: 'Wait', reason: 'Upgrading', message: '' }, undefined, 3, NOW);
  assert.equal(s.phase, 'Upgrading');
  assert.equal(s.state, 'updating');
  assert.deepEqual(s.upgradeInfo, { isRollingBack: false, prevRelease: 'r1' });
  assert.equal(s.release, 'r1');
  const role = s.roles?.[0];
  assert.equal(role?.upgradeStatus, 'upgraded');
  assert.deepEqual(
    role?.members?.map((m) => [m.name, m.upgradeStatus, m.release]),
    [
      ['db-primary-0', '', 'r1'],
      ['db-primary-1', 'upgraded', 'r2'],
    ],
  );
  assert.equal(role?.members?.[1]?.upgradedAt, NOW);
  assert.equal(s.conditions?.find((c) => c.type === 'Progressing')?.reason, 'Upgrading');
});

test('rolling back, then rolled back: the touched member shows rollingBack, then rolledBack; a refusal is the Progressing reason', () => {
  const back = { ...journal, state: 'RollingBack' as const, cause: 'ImagePullFailed: x', failed: 1 };
  const s = releaseStatusOf(world(back), { kind: 'Wait', reason: 'RollingBack', message: '' }, undefined, 3, NOW);
  assert.deepEqual(s.upgradeInfo, { isRollingBack: true, prevRelease: 'r1' });
  assert.equal(s.roles?.[0]?.members?.[1]?.upgradeStatus, 'rollingBack');
  const last = {
    from: 'r1',
    to: 'r2',
    outcome: 'RolledBack' as const,
    reason: 'ImagePullFailed',
    message: 'x',
    startedAt: NOW,
    finishedAt: NOW,
    journal: { ...back, reverted: [1] },
  };
  const done = releaseStatusOf(
    world(undefined, last),
    { kind: 'Steady', reason: 'RolledBack', message: 'rolled back' },
    undefined,
    3,
    NOW,
  );
  assert.equal(done.phase, 'Running');
  assert.equal(done.state, 'configured');
  assert.equal(done.upgradeInfo, undefined);
  assert.equal(done.roles?.[0]?.members?.[1]?.upgradeStatus, 'rolledBack');
  assert.equal(done.lastUpgrade?.outcome, 'RolledBack');
  const refused = releaseStatusOf(
    world(),
    { kind: 'Refuse', reason: 'DowngradeRefused', message: 'no' },
    undefined,
    4,
    NOW,
  );
  assert.deepEqual(
    refused.conditions?.find((c) => c.type === 'Progressing'),
    {
      type: 'Progressing',
      status: 'False',
      reason: 'DowngradeRefused',
      message: 'no',
      lastTransitionTime: NOW,
      observedGeneration: 4,
    },
  );
});

test('status.history of a release app: the install, each finished rollout (a molt rollback as kind rollback), kept across passes', () => {
  const installedOnly = releaseStatusOf(
    world(),
    { kind: 'Steady', reason: 'UpToDate', message: '' },
    undefined,
    1,
    NOW,
  );
  assert.deepEqual(
    installedOnly.history?.map((e) => [e.kind, e.to, e.result]),
    [['install', 'r1', 'Succeeded']],
  );
  const up = {
    from: 'r1',
    to: 'r2',
    outcome: 'Succeeded' as const,
    reason: 'Upgraded',
    message: '',
    startedAt: NOW,
    finishedAt: '2026-01-01T00:01:00.000Z',
    journal,
  };
  const s1 = releaseStatusOf(
    world(undefined, up),
    { kind: 'Steady', reason: 'UpToDate', message: '' },
    installedOnly,
    2,
    NOW,
  );
  const back = {
    ...up,
    from: 'r2',
    to: 'r1',
    finishedAt: '2026-01-01T00:02:00.000Z',
    journal: { ...journal, from: 'r2', to: 'r1', rollback: true },
  };
  const s2 = releaseStatusOf(world(undefined, back), { kind: 'Steady', reason: 'UpToDate', message: '' }, s1, 3, NOW);
  const again = releaseStatusOf(
    world(undefined, back),
    { kind: 'Steady', reason: 'UpToDate', message: '' },
    s2,
    3,
    NOW,
  );
  assert.deepEqual(
    again.history?.map((e) => [e.kind, e.from ?? null, e.to, e.result]),
    [
      ['install', null, 'r1', 'Succeeded'],
      ['upgrade', 'r1', 'r2', 'Succeeded'],
      ['rollback', 'r2', 'r1', 'Succeeded'],
    ],
  );
});

test('paused: by a failure (the cause in upgrade and the condition) or by request; phase Paused, Progressing False reason Paused', () => {
  const failed: RoleJournal = {
    ...journal,
    failed: 1,
    paused: {
      role: 'primary',
      ordinal: 1,
      reason: 'ContainerCrashLooping',
      message: 'db-primary-1: CrashLoopBackOff',
      at: NOW,
    },
  };
  const s = releaseStatusOf(
    world(failed),
    { kind: 'Paused', reason: 'ContainerCrashLooping', message: 'paused at primary member 1' },
    undefined,
    3,
    NOW,
  );
  assert.equal(s.phase, 'Paused');
  assert.equal(s.upgrade?.cause, 'ContainerCrashLooping: db-primary-1: CrashLoopBackOff');
  const cond = s.conditions?.find((c) => c.type === 'Progressing');
  assert.equal(cond?.status, 'False');
  assert.equal(cond?.reason, 'Paused');
  assert.match(cond?.message ?? '', /^ContainerCrashLooping: paused at primary member 1/);
  const requested = releaseStatusOf(
    world(journal),
    { kind: 'Paused', reason: 'PauseRequested', message: 'paused before db-primary-0' },
    undefined,
    3,
    NOW,
  );
  assert.equal(requested.phase, 'Paused');
  assert.equal(requested.upgrade?.cause, undefined);
});
