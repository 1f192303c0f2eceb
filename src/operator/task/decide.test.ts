// The UpgradeTask controller's pure parts: one Job while unfinished, the task marked Error when
// its Job fails for good, the Job removed once the task ended; the Job's shape; and how the
// worker reads an App's rollout from its status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upgradeTaskDocument } from '../../core/task-schema.ts';
import type { UpgradeTaskSpec } from '../../core/task.ts';
import { decideTask, jobView, type JobView, type TaskView } from './decide.ts';
import { rolloutVerdict, unsettledReason, verifyProblems, type AppLike } from './rollout.ts';
import { jobDeadlineSeconds, jobFor, jobName } from './template.ts';

const task = (phase: TaskView['phase'], deleting = false): TaskView => ({ phase, deleting, job: undefined });
const job = (over: Partial<JobView> = {}): JobView => ({
  name: 'molt-task-t',
  deleting: false,
  complete: false,
  ...over,
});

test('an unfinished task without a Job gets one; with a running Job it waits', () => {
  for (const phase of [undefined, 'Pending', 'Started'] as const) {
    assert.equal(decideTask(task(phase), undefined).kind, 'CreateJob');
    assert.equal(decideTask(task(phase), job()).kind, 'Wait');
  }
});

test('a finished task has its Job deleted, after success and after failure, and then nothing', () => {
  assert.deepEqual(decideTask(task('Success'), job()), { kind: 'DeleteJob', outcome: 'Success' });
  assert.deepEqual(decideTask(task('Error'), job()), { kind: 'DeleteJob', outcome: 'Error' });
  assert.equal(decideTask(task('Error'), job({ deleting: true })).kind, 'Nothing');
  assert.equal(decideTask(task('Success'), undefined).kind, 'Nothing', 'a finished task never gets a new Job');
});

test("a Job that failed for good marks the unfinished task Error with the Job's reason", () => {
  const step = decideTask(
    task('Started'),
    jobView({
      metadata: { name: 'molt-task-t' },
      status: {
        conditions: [
          {
            type: 'Failed',
            status: 'True',
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
          },
        ],
      },
    }),
  );
  assert.equal(step.kind, 'MarkFailed');
  assert.match(
    step.kind === 'MarkFailed' ? step.message : '',
    /BackoffLimitExceeded: Job has reached the specified backoff limit/,
  );
  assert.equal(
    decideTask(task('Started'), job({ complete: true })).kind,
    'MarkFailed',
    'a worker that exited 0 without finishing is a failure too',
  );
  assert.equal(
    decideTask(task('Started', true), undefined).kind,
    'Nothing',
    'a deleted task is left to garbage collection',
  );
});

function spec(options: Record<string, unknown> = {}): UpgradeTaskSpec {
  const doc = upgradeTaskDocument().parse({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'UpgradeTask',
    metadata: { name: 't' },
    spec: { target: { selector: { matchLabels: { tier: 'web' } } }, toVersion: '2.0.0', options },
  });
  return doc.spec as UpgradeTaskSpec;
}

test("the Job runs molt's own image as the task worker, owned by the task, bounded in time and retries", () => {
  const j = jobFor({
    task: { name: 't', namespace: 'ns', uid: 'u1' },
    spec: spec({ timeout: '2m', concurrency: 2 }),
    targets: 3,
    image: 'localhost/molt-operator:x',
  });
  const pod = (j.spec['template'] as any).spec;
  assert.equal(j.metadata.name, 'molt-task-t');
  assert.deepEqual(
    j.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]),
    [['UpgradeTask', 't', 'u1', true]],
  );
  assert.equal(j.spec['backoffLimit'], 3);
  assert.equal(j.spec['activeDeadlineSeconds'], 120 * 2 + 300, 'two waves of 2 minutes plus slack');
  assert.equal(pod.serviceAccountName, 'molt-task-worker');
  assert.equal(pod.automountServiceAccountToken, true);
  assert.equal(pod.restartPolicy, 'Never');
  assert.equal(pod.containers[0].image, 'localhost/molt-operator:x');
  assert.deepEqual(pod.containers[0].command.slice(2), [
    '/app/src/cli/main.ts',
    '--in-cluster',
    '-n',
    'ns',
    'task',
    'run',
    't',
    '--in-job',
  ]);
  assert.equal(
    jobDeadlineSeconds(spec({ timeout: '1m', retries: 1 }), 0),
    60 * 2 + 300,
    'no targets still leaves one wave',
  );
  const long = jobName('a'.repeat(60));
  assert.ok(long.length <= 63 && long !== jobName(`${'a'.repeat(59)}b`), 'long names are shortened and stay distinct');
});

const app = (status: AppLike['status'], specVersion = '2.0.0'): AppLike => ({
  metadata: { name: 'web-1', generation: 3 },
  spec: { version: specVersion, image: 'r/web:2.0.0' },
  status,
});
const ready = {
  type: 'Ready',
  status: 'True' as const,
  reason: 'Running',
  message: 'ok',
  lastTransitionTime: '2026-01-01T00:00:00Z',
};
const expect = { toVersion: '2.0.0', toImage: 'r/web:2.0.0', generation: 3, since: '2026-01-01T00:00:00Z' };

test('a rollout is awaited until the operator saw the change, through the upgrade, to the new version ready', () => {
  assert.equal(rolloutVerdict(app({ observedGeneration: 2, installedVersion: '1.0.0' }), expect).state, 'waiting');
  assert.equal(
    rolloutVerdict(
      app({
        observedGeneration: 3,
        installedVersion: '1.0.0',
        upgrade: { from: '1.0.0', to: '2.0.0', state: 'Upgrading', startedAt: expect.since },
      }),
      expect,
    ).state,
    'waiting',
  );
  assert.equal(
    rolloutVerdict(
      app({
        observedGeneration: 3,
        installedVersion: '2.0.0',
        image: 'r/web:2.0.0',
        conditions: [{ ...ready, status: 'False' }],
      }),
      expect,
    ).state,
    'waiting',
  );
  assert.equal(
    rolloutVerdict(
      app({ observedGeneration: 3, installedVersion: '2.0.0', image: 'r/web:2.0.0', conditions: [ready] }),
      expect,
    ).state,
    'upgraded',
  );
});

test("a rollback by the operator after the attempt started fails the target with the operator's reason; an older one does not", () => {
  const last = {
    from: '1.0.0',
    to: '2.0.0',
    outcome: 'RolledBack' as const,
    reason: 'ImagePullFailed',
    message: 'no such image',
    finishedAt: '2026-01-01T00:01:00Z',
  };
  const v = rolloutVerdict(app({ observedGeneration: 3, installedVersion: '1.0.0', lastUpgrade: last }), expect);
  assert.deepEqual(
    [v.state, v.state === 'failed' ? v.phase : '', v.state === 'failed' ? v.reason : ''],
    ['failed', 'RolledBack', 'ImagePullFailed'],
  );
  assert.equal(
    rolloutVerdict(
      app({
        observedGeneration: 3,
        installedVersion: '1.0.0',
        lastUpgrade: { ...last, finishedAt: '2025-12-31T00:00:00Z' },
      }),
      expect,
    ).state,
    'waiting',
  );
  const refused = rolloutVerdict(
    app({
      observedGeneration: 3,
      installedVersion: '1.0.0',
      conditions: [
        {
          ...ready,
          type: 'Progressing',
          status: 'False',
          reason: 'VolumeChangeRefused',
          message: 'no',
          observedGeneration: 3,
        },
      ],
    }),
    expect,
  );
  assert.equal(refused.state, 'refused');
});

test('only a settled App is a target; verification names every member not on the new version', () => {
  assert.equal(unsettledReason(app({ installedVersion: '1.0.0' }, '1.0.0')), undefined);
  assert.equal(unsettledReason(app({ installedVersion: '1.0.0' }, '1.5.0'))?.reason, 'AppNotSettled');
  assert.equal(unsettledReason(app({}))?.reason, 'NotInstalled');
  assert.equal(
    unsettledReason(
      app(
        { installedVersion: '1.0.0', upgrade: { to: '1.5.0', state: 'Upgrading', startedAt: expect.since } },
        '1.5.0',
      ),
    )?.reason,
    'AppBusy',
  );
  const ok = app({
    installedVersion: '2.0.0',
    image: 'r/web:2.0.0',
    conditions: [ready],
    members: [{ name: 'web-1-0', ordinal: 0, version: '2.0.0', ready: true }],
  });
  assert.deepEqual(verifyProblems(ok, expect), []);
  const stale = app({ ...ok.status, members: [{ name: 'web-1-0', ordinal: 0, version: '1.0.0', ready: true }] });
  assert.match(verifyProblems(stale, expect).join(), /web-1-0 \(1\.0\.0\)/);
});
