// What the task worker does to an App on Kubernetes: the core's rules for inline apps (image
// from imageTemplate, version guard, downgrade refusal), a release move for release apps, and
// refusals for Apps that are not settled — all decided before anything is patched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upgradeTaskDocument } from '../../core/task-schema.ts';
import type { UpgradeTaskSpec } from '../../core/task.ts';
import { expectationOf, fieldsOf, planTarget, specHas, targetFields } from './plan.ts';
import type { AppLike } from './rollout.ts';

function spec(fields: Record<string, unknown>): UpgradeTaskSpec {
  return upgradeTaskDocument().parse({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'UpgradeTask',
    metadata: { name: 't' },
    spec: { target: { selector: { matchLabels: { tier: 'web' } } }, ...fields },
  }).spec as UpgradeTaskSpec;
}

function inline(version: string, installed = version): AppLike {
  return {
    metadata: { name: 'web-a', labels: { tier: 'web' } },
    spec: {
      package: 'official/web',
      version,
      image: `registry:5000/web:${version}`,
      volumes: [{ name: 'data', mountPath: '/data' }],
    },
    status: { installedVersion: installed, image: `registry:5000/web:${installed}`, phase: 'Running' },
  };
}

function releaseApp(release: string, running = release): AppLike {
  return {
    metadata: { name: 'db' },
    spec: { release, roles: [{ name: 'primary', members: 1 }] },
    status: { release: running, phase: 'Running' },
  };
}

test('an inline app moves to the new version with the image from imageTemplate (registry port kept)', () => {
  const p = planTarget(spec({ toVersion: '2.0.0' }), 'web-a', inline('1.0.0'));
  assert.equal(p.action, 'upgrade');
  if (p.action !== 'upgrade') return;
  assert.deepEqual(
    [p.from, p.to],
    [
      { version: '1.0.0', image: 'registry:5000/web:1.0.0' },
      { version: '2.0.0', image: 'registry:5000/web:2.0.0' },
    ],
  );
  const recorded = targetFields(p.from, p.to);
  assert.deepEqual(
    fieldsOf(recorded, 'to'),
    p.to,
    'what the status records is what a resumed worker patches and awaits',
  );
  assert.equal(specHas({ ...inline('1.0.0'), spec: { ...inline('1.0.0').spec, ...p.to } }, p.to), true);
  assert.deepEqual(expectationOf(p.to, 4, 'T'), {
    toVersion: '2.0.0',
    toImage: 'registry:5000/web:2.0.0',
    generation: 4,
    since: 'T',
  });
});

test("the core's rules hold on Kubernetes: already there is skipped, a downgrade and a version guard are refused", () => {
  assert.equal(planTarget(spec({ toVersion: '2.0.0' }), 'web-a', inline('2.0.0')).action, 'skip');
  const down = planTarget(spec({ toVersion: '0.9.0' }), 'web-a', inline('1.0.0'));
  assert.deepEqual([down.action, down.action !== 'upgrade' ? down.reason : ''], ['refuse', 'DowngradeRefused']);
  const guard = planTarget(spec({ toVersion: '2.0.0', fromVersion: '1.5.0' }), 'web-a', inline('1.0.0'));
  assert.deepEqual([guard.action, guard.action !== 'upgrade' ? guard.reason : ''], ['refuse', 'FromVersionMismatch']);
});

test('an App that is not settled (spec ahead of what runs, or gone) is refused, never patched', () => {
  const ahead = planTarget(spec({ toVersion: '2.0.0' }), 'web-a', inline('1.5.0', '1.0.0'));
  assert.deepEqual([ahead.action, ahead.action !== 'upgrade' ? ahead.reason : ''], ['refuse', 'AppNotSettled']);
  const gone = planTarget(spec({ toVersion: '2.0.0' }), 'web-a', undefined);
  assert.deepEqual([gone.action, gone.action !== 'upgrade' ? gone.reason : ''], ['refuse', 'AppNotFound']);
});

test('a release app moves to toRelease (the operator checks the release rules); toVersion is refused; the same release is skipped', () => {
  const p = planTarget(spec({ toRelease: 'db-2' }), 'db', releaseApp('db-1'));
  assert.equal(p.action, 'upgrade');
  if (p.action === 'upgrade') {
    assert.deepEqual([p.from, p.to], [{ release: 'db-1' }, { release: 'db-2' }]);
    assert.deepEqual(fieldsOf(targetFields(p.from, p.to), 'from'), { release: 'db-1' });
  }
  assert.equal(planTarget(spec({ toRelease: 'db-2' }), 'db', releaseApp('db-2')).action, 'skip');
  const v = planTarget(spec({ toVersion: '2.0.0' }), 'db', releaseApp('db-1'));
  assert.deepEqual([v.action, v.action !== 'upgrade' ? v.reason : ''], ['refuse', 'ToReleaseRequired']);
  const busy = planTarget(spec({ toRelease: 'db-3' }), 'db', releaseApp('db-2', 'db-1'));
  assert.deepEqual([busy.action, busy.action !== 'upgrade' ? busy.reason : ''], ['refuse', 'AppNotSettled']);
});
