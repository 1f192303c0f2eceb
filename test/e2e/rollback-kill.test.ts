/**
 * A rollback does not wait for the container it discards: a new version that ignores SIGTERM
 * and never becomes ready is killed at once by RemoveNew, not stopped over its (long)
 * stopTimeoutSeconds, while the app is down — with volume snapshots off (it never became ready)
 * and on (its volumes are restored anyway).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LABEL } from '../../src/core/model.ts';
import type { PodmanHarness } from './harness.ts';
import { appDoc, buildApp, molt, startTestbed, writeManifest, type MoltEnv } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
const REPO = 'localhost/e2e-rbkill';
// A graceful stop of the new version would take all of this: whatever the machine's load, a
// RemoveNew that ends well before it did not wait for it (no timing of molt itself is asserted).
const STOP_TIMEOUT = 900;

before(async () => {
  ({ h, m, net, subnet } = await startTestbed());
  await Promise.all([
    buildApp(h, REPO, '1.0.0-1'),
    // Ignores SIGTERM and never creates /tmp/ready: a graceful stop would take STOP_TIMEOUT.
    buildApp(h, REPO, '2.0.0-1', {}, ['sh', '-c', "trap '' TERM; while true; do sleep 1; done"]),
  ]);
});
after(async () => h?.stop());

interface StepJson {
  name: string;
  rollback: boolean;
  phase: string;
  startedAt: string;
  finishedAt: string;
  message: string;
}

for (const snapshots of [false, true]) {
  test(`a never-ready new version is killed, not waited for (snapshots ${snapshots ? 'on' : 'off'})`, async () => {
    const name = `rbkill-${snapshots ? 'snap' : 'plain'}`;
    const doc = (version: string) => {
      const d = appDoc({ name, version, image: `${REPO}:${version}`, network: net, subnet }) as {
        spec: Record<string, unknown>;
      };
      d.spec.stopTimeoutSeconds = STOP_TIMEOUT;
      d.spec.upgrade = { snapshotVolumes: snapshots, startupFailureThreshold: 5 };
      return writeManifest(m, `${name}-${version}.yaml`, d);
    };
    assert.equal((await molt(m, ['apply', '-f', doc('1.0.0-1')])).code, 0);
    const oldId = (await h.engine.inspectContainer(name))?.id;
    const r = await molt(m, ['apply', '-f', doc('2.0.0-1')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /was rolled back to 1\.0\.0-1/);
    const c = await h.engine.inspectContainer(name);
    assert.deepEqual([c?.id, c?.running], [oldId, true], 'the old container runs again');
    const ops = JSON.parse((await molt(m, ['history', name, '-o', 'json'])).stdout) as Array<{
      state: { phase: string };
      steps: StepJson[];
    }>;
    const removeNew = ops.at(-1)?.steps.find((s) => s.name === 'RemoveNew');
    assert.equal(removeNew?.phase, 'Completed');
    assert.match(removeNew?.message ?? '', /killed: it never became ready/);
    const took = Date.parse(removeNew!.finishedAt) - Date.parse(removeNew!.startedAt);
    assert.ok(took < (STOP_TIMEOUT / 3) * 1000, `RemoveNew took ${took} ms: it waited for a graceful stop`);
    assert.deepEqual(
      (await h.engine.listContainers([`${LABEL.app}=${name}`])).map((x) => x.id),
      [oldId],
      'the new container is gone',
    );
  });
}
