/**
 * The conformance suite (issue 15): one list of scenarios, one manifest, one set of
 * assertions, run on real engines — Podman through the local molt CLI (podman.test.ts) and
 * the test cluster through `molt --kubeconfig` and the operator (kubernetes.test.ts). Each
 * engine is a small adapter (engine.ts `Engine`). Where the engines differ, the difference is
 * an entry of exceptions.ts, asserted as what that engine does instead, and explained in
 * README.md beside this file. The scenarios run in order, on one app.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { APP, Checks, type Engine } from './engine.ts';
import { EXCEPTIONS } from './exceptions.ts';

/** One scenario: what a user does and what both engines must show. */
export interface Scenario {
  name: string;
  run(c: Checks): Promise<void>;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'install: the app runs its version; status: Running, Ready, version, image, imageDigest',
    run: async (c) => {
      c.ok(await c.apply({ version: '1.0.0' }), 'apply 1.0.0');
      const s = await c.settled('1.0.0');
      if (c.except('k8s-last-upgrade-shape')) assert.equal(s.lastUpgrade, undefined);
      else
        assert.deepEqual(
          [s.lastUpgrade?.kind, s.lastUpgrade?.to, s.lastUpgrade?.outcome],
          ['install', '1.0.0', 'Succeeded'],
        );
      await c.exec('echo precious > /data/note');
      assert.equal(await c.scriptLog(), '', 'an install runs no upgrade script');
    },
  },
  {
    name: 'upgrade with scripts only in image labels: pre-upgrade in the old instance with <old> <new>, post-upgrade in the new',
    run: async (c) => {
      c.ok(await c.apply({ version: '2.0.0' }), 'apply 2.0.0');
      const s = await c.settled('2.0.0');
      c.lastUpgrade(s, '1.0.0', '2.0.0', 'Succeeded');
      c.progressing(s, 'Succeeded');
      assert.equal(await c.scriptLog(), 'pre argc=2 1.0.0 2.0.0 in=1.0.0\npost argc=2 1.0.0 2.0.0 in=2.0.0\n');
      assert.equal(await c.note(), 'precious');
    },
  },
  {
    name: 'a pre-upgrade script that refuses: the old version keeps running, untouched',
    run: async (c) => {
      const instance = await c.e.instance(APP);
      const sum = await c.e.volumeChecksum(APP);
      c.failed(await c.apply({ version: '3.0.0' }), 'PreUpgradeFailed', 'Aborted');
      const s = await c.settled('2.0.0');
      c.lastUpgrade(s, '2.0.0', '3.0.0', 'Aborted', 'PreUpgradeFailed');
      c.progressing(s, 'Aborted');
      assert.equal(await c.e.instance(APP), instance, 'the old instance was never stopped');
      assert.equal(await c.e.volumeChecksum(APP), sum, 'the volume is byte for byte as before');
    },
  },
  {
    name: 'a failing post-upgrade script: rolled back to the old version, the volume bytes restored',
    run: async (c) => {
      const sum = await c.e.volumeChecksum(APP);
      c.failed(await c.apply({ version: '4.0.0' }), 'PostUpgradeFailed', 'RolledBack');
      const s = await c.settled('2.0.0');
      c.lastUpgrade(s, '2.0.0', '4.0.0', 'RolledBack', 'PostUpgradeFailed');
      c.progressing(s, 'RolledBack');
      if (c.except('k8s-no-volume-restore')) {
        // Today: the pods are back on 2.0.0 (settled above), on the data 4.0.0's scripts left.
        assert.notEqual(await c.e.volumeChecksum(APP), sum);
        assert.equal(await c.note(), 'half-migrated');
        assert.match(
          await c.scriptLog(),
          /pre argc=2 2\.0\.0 4\.0\.0 in=2\.0\.0\npost argc=2 2\.0\.0 4\.0\.0 in=4\.0\.0\n$/,
        );
      } else {
        assert.equal(await c.e.volumeChecksum(APP), sum, 'the volume bytes are exactly as before the upgrade');
        assert.equal(await c.note(), 'precious');
      }
    },
  },
  {
    name: 'a downgrade without forceUpgrade is refused; nothing changes',
    run: (c) => c.refused({ version: '0.9.0', tag: '1.0.0' }, 'DowngradeRefused'),
  },
  {
    name: 'a package namespace switch without allowNamespaceSwitch is refused; nothing changes',
    run: (c) => c.refused({ version: '5.0.0', tag: '2.0.0', pkg: 'elsewhere/notes' }, 'NamespaceSwitchRefused'),
  },
  {
    name: 'molt rollback: back to the version before, run as its digest, the data kept',
    run: async (c) => {
      const data = await c.note();
      const logBefore = await c.scriptLog();
      c.ok(await c.e.molt(['rollback', APP]), 'molt rollback');
      const s = await c.settled('1.0.0');
      c.lastUpgrade(s, '2.0.0', '1.0.0', 'Succeeded');
      assert.equal(await c.note(), data, 'the data is kept');
      const scripts = (await c.scriptLog()).slice(logBefore.length);
      assert.equal(scripts, '', 'going back runs no upgrade script');
    },
  },
  {
    name: 'molt history: every operation, in order, with its outcome',
    run: async (c) => {
      const r = await c.e.molt(['history', APP]);
      c.ok(r, 'molt history');
      const heads = [...r.stdout.matchAll(/^#\d+ (\S+ \S+ → \S+) {3}(\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
      const refusals = c.except('k8s-refusal-recorded')
        ? ['upgrade 2.0.0 → 0.9.0 Refused', 'upgrade 2.0.0 → 5.0.0 Refused']
        : [];
      assert.deepEqual(heads, [
        'install ∅ → 1.0.0 Succeeded',
        'upgrade 1.0.0 → 2.0.0 Succeeded',
        'upgrade 2.0.0 → 3.0.0 Aborted',
        'upgrade 2.0.0 → 4.0.0 RolledBack',
        ...refusals,
        'rollback 2.0.0 → 1.0.0 Succeeded',
      ]);
    },
  },
];

/** Runs every scenario, in order, on the engine `start` returns. */
export function conformanceSuite(start: () => Promise<Engine>): void {
  let engine: Engine | undefined;
  let checks: Checks | undefined;
  before(async () => {
    engine = await start();
    checks = await Checks.prepare(engine);
  });
  after(async () => {
    await checks?.close();
    await engine?.close();
  });

  test('the exceptions in force are the ones README.md documents', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    for (const x of EXCEPTIONS) assert.match(readme, new RegExp(`\`${x.id}\``), `README.md documents ${x.id}`);
  });
  for (const s of SCENARIOS)
    test(s.name, async () => {
      if (!checks) throw new Error('the engine did not start');
      await s.run(checks);
    });
}
