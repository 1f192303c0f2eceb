// Every operator action that changes the cluster has a kill point before and after it, so the
// kill-matrix e2e test (test/e2e/k8s-kill-matrix.test.ts), which iterates these lists, covers a
// new kind automatically. The lists are checked against the Step / RoleAction unions (a kind
// must be either acting or terminal) and against the code that passes each boundary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ACTING_STEPS, TERMINAL, type Step } from '../app/decide.ts';
import { ACTING_PASS_STEPS, ACTING_ROLE_ACTIONS, type RoleAction } from './steps.ts';

const src = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');

// Compile-time: every kind is classified (a new kind without an entry does not type-check).
const STEP_KINDS: Record<Step['kind'], 'acts' | 'terminal'> = {
  Invalid: 'terminal',
  Refuse: 'terminal',
  Blocked: 'terminal',
  Wait: 'terminal',
  Steady: 'terminal',
  Delete: 'acts',
  Install: 'acts',
  Converge: 'acts',
  MarkInstalled: 'acts',
  Record: 'acts',
  BeginUpgrade: 'acts',
  SnapshotVolumes: 'acts',
  PreUpgrade: 'acts',
  SwitchTemplate: 'acts',
  RestartMember: 'acts',
  PostUpgrade: 'acts',
  StartRollback: 'acts',
  HoldMember: 'acts',
  RestoreVolumes: 'acts',
  ReleaseMember: 'acts',
  PruneSnapshots: 'acts',
  Abort: 'acts',
  FinishUpgrade: 'acts',
  FinishRollback: 'acts',
  Cleanup: 'acts',
  ClearRollbackTo: 'acts',
};
const ROLE_KINDS: Record<RoleAction['kind'], 'acts' | 'terminal'> = {
  SetTemplate: 'acts',
  DeletePod: 'acts',
  PodHook: 'acts',
  RoleHook: 'acts',
  SnapshotVolumes: 'acts',
  HoldMembers: 'acts',
  RestoreVolumes: 'acts',
  ReleaseMembers: 'acts',
  Wait: 'terminal',
  Fail: 'terminal',
  Done: 'terminal',
};

test('every App step kind is either terminal or in ACTING_STEPS, and the reconciler passes a kill point around each act', () => {
  for (const [kind, what] of Object.entries(STEP_KINDS)) {
    assert.equal((ACTING_STEPS as readonly string[]).includes(kind), what === 'acts', `${kind} acting`);
    assert.equal(TERMINAL.has(kind as Step['kind']), what === 'terminal', `${kind} terminal`);
  }
  const reconciler = src('../app/reconciler.ts');
  assert.match(reconciler, /boundary\(appKillPoint\(step\.kind\), 'before'\);\s*const follow = await act\(/);
  assert.match(reconciler, /await act\([^;]*;\s*boundary\(appKillPoint\(step\.kind\), 'after'\)/);
});

test('every RoleAction kind that acts is in ACTING_ROLE_ACTIONS and passes its kill points', () => {
  assert.deepEqual(
    [...ACTING_ROLE_ACTIONS].sort(),
    Object.entries(ROLE_KINDS)
      .filter(([, w]) => w === 'acts')
      .map(([k]) => k)
      .sort(),
  );
  const actions = src('./actions.ts');
  assert.match(actions, /if \(acting\) boundary\(releaseKillPoint\(a\.kind\), 'before'\)/);
  // Every acting kind but the hooks: after the act; the hooks: between the run and its journal entry.
  assert.match(
    actions,
    /if \(acting && a\.kind !== 'PodHook' && a\.kind !== 'RoleHook'\) boundary\(releaseKillPoint\(a\.kind\), 'after'\)/,
  );
  assert.equal(
    actions.match(/boundary\(releaseKillPoint\(a\.kind\), 'after'\);\s*(if \(!res\.ok|await writeJournal)/g)?.length,
    2,
    'PodHook and RoleHook',
  );
});

test('every rollout step taken once per app passes a kill point before and after it', () => {
  const code = src('./reconciler.ts') + src('./pause.ts');
  for (const kind of ACTING_PASS_STEPS) {
    for (const when of ['before', 'after'])
      assert.ok(code.includes(`boundary(releaseKillPoint('${kind}'), '${when}')`), `${kind}:${when}`);
  }
});
