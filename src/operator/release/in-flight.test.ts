import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpgradeRefusedError } from '../../core/errors.ts';
import { decideReleaseApp } from '../../core/release.ts';
import {
  releaseAppDocument,
  releaseDocument,
  type ReleaseAppManifest,
  type ReleaseManifest,
} from '../../core/release-schema.ts';
import { decideInFlight } from './in-flight.ts';
import type { InstalledRelease } from './template.ts';

const release = (name: string, version: string): ReleaseManifest =>
  releaseDocument().parse({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'Release',
    metadata: { name },
    spec: { package: 'test/kv', version, upgradable: true, roles: [{ name: 'a', image: `kv:${version}` }] },
  });
const app = (rel: string, members = 2): ReleaseAppManifest =>
  releaseAppDocument().parse({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name: 'kv' },
    spec: { release: rel, roles: [{ name: 'a', members }] },
  });

/** Installed on kv-1, a rollout kv-1 → kv-2 in flight. */
const installed: InstalledRelease = { app: app('kv-1').spec, release: release('kv-1', '1.0.0-1') };
const journal = { from: 'kv-1', to: 'kv-2' };

test('in flight: the rollout’s own spec goes on, the previous release rolls back', () => {
  assert.deepEqual(decideInFlight(app('kv-2'), journal, installed, release('kv-2', '2.0.0-1')), { action: 'resume' });
  assert.deepEqual(decideInFlight(app('kv-1'), journal, installed, release('kv-1', '1.0.0-1')), {
    action: 'rollback',
  });
});

test('in flight: any other change is refused with the core’s own reason and message (the rule lives once)', () => {
  for (const desired of [app('kv-3'), app('kv-2', 3)]) {
    const target = release(desired.spec.release, '3.0.0-1');
    const got = decideInFlight(desired, journal, installed, target);
    // The local runner asks the core the same question with its store's in-flight state.
    const core = (() => {
      try {
        decideReleaseApp(
          desired,
          {
            manifest: app('kv-2'),
            release: installed.release,
            updating: true,
            isRollingBack: false,
            prevRelease: 'kv-1',
            membersBehind: 0,
          },
          target,
        );
      } catch (e) {
        if (e instanceof UpgradeRefusedError) return e;
      }
      return undefined;
    })();
    assert.ok(core, 'the core refuses it');
    assert.deepEqual(got, { action: 'refuse', reason: core.code, message: core.message });
    assert.match(core.message, /kv is being updated to kv-2: only a rollback to kv-1 or finishing that rollout/);
  }
});
