/**
 * The conformance suite (issue 15): one list of scenarios, one manifest, one set of
 * assertions, run on real engines — Podman through the local molt CLI (podman.test.ts) and
 * the test cluster through `molt --kubeconfig` and the operator (kubernetes.test.ts). Each
 * engine is a small adapter (`Engine`): apply a file, roll back, read `molt get app -o json`,
 * run a command in the running instance, identify that instance, checksum the data volume
 * on the host. Where the engines differ, the difference is an entry of EXCEPTIONS, asserted
 * as what that engine does instead, and explained in README.md beside this file.
 *
 * The images are pushed to the test registry (test/k8s/lib/registry.sh) through its API and
 * pulled by both engines, so both run the same bytes and record the same digests. Their
 * upgrade scripts are declared only in image labels.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SCRIPT_LABEL } from '../../src/core/model.ts';
import type { RunResult } from '../e2e/harness.ts';
import { pushBusyboxImage } from '../k8s/registry-push.ts';
import type { TestRegistry } from '../k8s/registry.ts';

/**
 * Issue 15: data-safe rollback on Kubernetes (PVC copy Jobs restored before the old version
 * starts) is being built on the k8s branch. Until it is merged the cluster rolls the pods
 * back onto the data the failed post-upgrade script left; flip this to true with that merge.
 */
export const K8S_RESTORES_VOLUMES = false;

export type EngineName = 'podman' | 'kubernetes';

/** One documented difference: what `engine` does where the other engine does otherwise. */
export interface Exception {
  id: string;
  engine: EngineName;
  what: string;
}

/**
 * The documented differences (README.md, "Exceptions"); each is asserted where it applies —
 * what the excepted engine does, and what the other does — so fixing one fails the suite
 * until its entry goes.
 */
export const EXCEPTIONS: readonly Exception[] = [
  ...(K8S_RESTORES_VOLUMES
    ? []
    : [
        {
          id: 'k8s-no-volume-restore',
          engine: 'kubernetes' as const,
          what: 'a failed post-upgrade rolls the pods back, but the volume keeps what the failed scripts wrote',
        },
      ]),
  {
    id: 'k8s-rollback-runs-scripts',
    engine: 'kubernetes',
    what: "`molt rollback` runs the older version's pre-upgrade (in the current pod) and post-upgrade scripts; locally going back runs none",
  },
  {
    id: 'k8s-last-upgrade-shape',
    engine: 'kubernetes',
    what: 'status.lastUpgrade: the failure code is `reason` (UpgradeSucceeded on success), not `error.code`; no `kind`; none after an install',
  },
  {
    id: 'k8s-cli-failure-code',
    engine: 'kubernetes',
    what: '`molt apply` of an upgrade that failed says error[Aborted] / error[RolledBack] with the failure code in the message; locally error[<failure code>]',
  },
  {
    id: 'k8s-history-aborted-as-failed',
    engine: 'kubernetes',
    what: '`molt history` shows an upgrade its pre-upgrade script refused as Failed; locally as Aborted (status.lastUpgrade says Aborted on both)',
  },
  {
    id: 'k8s-progressing-reasons',
    engine: 'kubernetes',
    what: 'the Progressing condition after an upgrade says UpToDate / Aborted where the local status says UpgradeSucceeded / UpgradeAborted',
  },
  {
    id: 'k8s-refusal-recorded',
    engine: 'kubernetes',
    what: 'a refused change stays in the App object: Progressing says the refusal, history has a Refused entry; locally nothing is recorded',
  },
];

export function excepted(engine: EngineName, id: string): boolean {
  return EXCEPTIONS.some((e) => e.engine === engine && e.id === id);
}

/** Where the one manifest runs: the values that differ by site, never by scenario. */
export interface Site {
  registry: TestRegistry;
  /** The local engine's network (a cluster ignores spec.network). */
  network: { name: string; subnet: string };
  /** metadata.labels: the operator instance that owns the App (the local engine keeps labels as they are). */
  labels: Record<string, string>;
}

/** One engine as the scenarios drive it. */
export interface Engine {
  readonly name: EngineName;
  readonly site: Site;
  /** The molt CLI with this engine's global options (`--kubeconfig K -n NS` on a cluster); waits. */
  molt(args: string[]): Promise<RunResult>;
  /** `sh -c CMD` in the app's running instance (container, or pod 0); its stdout. */
  exec(app: string, cmd: string): Promise<string>;
  /** What identifies the running instance: container ID and start time, pod UID and container start time. */
  instance(app: string): Promise<string>;
  /** Checksum of the app's `data` volume read on the host (harness.ts treeChecksum). */
  volumeChecksum(app: string): Promise<string>;
  close(): Promise<void>;
}

/** What the assertions read of `molt get app -o json` (both engines' shapes). */
export interface Status {
  phase?: string;
  installedVersion?: string;
  image?: string;
  imageDigest?: string;
  conditions?: { type: string; status: string; reason?: string }[];
  lastUpgrade?: {
    kind?: string;
    from?: string;
    to: string;
    outcome: string;
    reason?: string;
    error?: { code: string };
  };
  [key: string]: unknown;
}

const APP = 'conf';
const START = `#!/bin/sh
if [ -e /.molt/upgrade ]; then
  while [ ! -e /.molt/upgrade-done ]; do sleep 0.2; done
fi
touch /tmp/ready
trap 'exit 0' TERM
while true; do sleep 1; done
`;
const log = (kind: string) => `echo "${kind} argc=$# $1 $2 in=$(cat /app/VERSION)" >> /data/scripts.log\n`;
const SCRIPTS: Record<string, { pre: string; post: string }> = {
  '1.0.0': { pre: log('pre'), post: log('post') },
  '2.0.0': { pre: log('pre'), post: log('post') },
  // Refuses in the old instance before anything is touched.
  '3.0.0': { pre: 'echo "3.0.0 cannot upgrade from $1" >&2\nexit 1\n', post: log('post') },
  // Half-migrates the data, then fails.
  '4.0.0': { pre: log('pre'), post: `${log('post')}echo half-migrated > /data/note\nexit 3\n` },
};
const LABELS = { [SCRIPT_LABEL.preUpgrade]: '/app/pre-upgrade', [SCRIPT_LABEL.postUpgrade]: '/app/post-upgrade' };

/** The one manifest of every scenario. */
export function manifest(site: Site, repo: string, o: { version: string; tag?: string; pkg?: string }): string {
  return `apiVersion: molt.dev/v1alpha1
kind: App
metadata:
  name: ${APP}
  labels: ${JSON.stringify(site.labels)}
spec:
  package: ${o.pkg ?? 'conformance/notes'}
  version: ${o.version}
  image: ${repo}:${o.tag ?? o.version}
  imagePullSecrets: [{name: pull}]
  volumes: [{name: data, mountPath: /data}]
  network: {name: ${site.network.name}, subnet: ${site.network.subnet}}
  probes:
    startup: {exec: [cat, /tmp/ready], periodSeconds: 1, failureThreshold: 30}
  stopTimeoutSeconds: 2
`;
}

function condition(s: Status, type: string): { status: string; reason?: string } | undefined {
  return s.conditions?.find((c) => c.type === type);
}

/** Runs every scenario, in order, on the engine `start` returns. */
export function conformanceSuite(start: () => Promise<Engine>): void {
  let e: Engine;
  let work: string;
  let repo: string;
  const digests: Record<string, string> = {};
  const except = (id: string) => excepted(e.name, id);
  const file = (name: string, text: string): string => {
    const path = join(work, name);
    writeFileSync(path, text);
    return path;
  };
  const applyVersion = (o: { version: string; tag?: string; pkg?: string }) =>
    e.molt(['apply', '-f', file(`${o.version}.yaml`, manifest(e.site, repo, o))]);
  const status = async (): Promise<Status> => {
    const r = await e.molt(['get', 'app', APP, '-o', 'json']);
    assert.equal(r.code, 0, `molt get app ${APP}: ${r.stderr}`);
    return JSON.parse(r.stdout).status;
  };
  const running = async () => (await e.exec(APP, 'cat /app/VERSION')).trim();
  const note = async () => (await e.exec(APP, 'cat /data/note')).trim();
  const scriptLog = async () => e.exec(APP, 'cat /data/scripts.log 2>/dev/null || true');
  const ok = (r: RunResult, what: string) => assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
  /** `molt apply` failed with `code`; `outcome`: the upgrade ran and ended so (else it was refused). */
  const failed = (r: RunResult, code: string, outcome?: 'Aborted' | 'RolledBack') => {
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    if (outcome && except('k8s-cli-failure-code'))
      assert.match(r.stderr, new RegExp(`^error\\[${outcome}\\]: ${APP}: .*\\(${code}: `, 'm'));
    else assert.match(r.stderr, new RegExp(`^error\\[${code}\\]: `, 'm'));
  };
  /** The status of an app that runs `version`, as both engines must show it. */
  const settled = async (version: string): Promise<Status> => {
    const s = await status();
    assert.equal(s.phase, 'Running', JSON.stringify(s));
    assert.equal(s.installedVersion, version);
    assert.equal(condition(s, 'Ready')?.status, 'True', 'Ready=True');
    assert.equal(condition(s, 'Progressing')?.status, 'False', 'Progressing=False: nothing in flight');
    assert.equal(s.image, `${repo}:${version}`);
    assert.equal(s.imageDigest, digests[version], 'status.imageDigest is the digest pushed to the registry');
    assert.equal(await running(), version, 'the running instance is that version');
    return s;
  };
  /** status.lastUpgrade after an operation from → to that ended with outcome (and the failure code). */
  const lastUpgrade = (s: Status, from: string, to: string, outcome: string, code?: string) => {
    assert.deepEqual(
      { from: s.lastUpgrade?.from, to: s.lastUpgrade?.to, outcome: s.lastUpgrade?.outcome },
      { from, to, outcome },
    );
    if (except('k8s-last-upgrade-shape')) {
      assert.equal(s.lastUpgrade?.reason, code ?? 'UpgradeSucceeded');
      assert.equal(s.lastUpgrade?.error, undefined);
    } else {
      assert.equal(s.lastUpgrade?.error?.code, code);
      assert.equal(s.lastUpgrade?.reason, undefined);
    }
  };
  /** The Progressing condition's reason after an upgrade that ended with outcome. */
  const progressing = (s: Status, outcome: 'Succeeded' | 'Aborted' | 'RolledBack') => {
    const reasons = except('k8s-progressing-reasons')
      ? { Succeeded: 'UpToDate', Aborted: 'Aborted', RolledBack: 'RolledBack' }
      : { Succeeded: 'UpgradeSucceeded', Aborted: 'UpgradeAborted', RolledBack: 'RolledBack' };
    assert.equal(condition(s, 'Progressing')?.reason, reasons[outcome]);
  };
  /** Applies a change that must be refused, and checks that nothing moved. */
  const refused = async (o: { version: string; tag?: string; pkg?: string }, code: string) => {
    const before = { instance: await e.instance(APP), sum: await e.volumeChecksum(APP), s: await status() };
    failed(await applyVersion(o), code);
    const s = await settled('2.0.0');
    assert.deepEqual(s.lastUpgrade, before.s.lastUpgrade, 'no operation was recorded');
    if (except('k8s-refusal-recorded')) assert.equal(condition(s, 'Progressing')?.reason, code);
    else assert.deepEqual(condition(s, 'Progressing'), condition(before.s, 'Progressing'));
    assert.equal(await e.instance(APP), before.instance, 'the running instance was not touched');
    assert.equal(await e.volumeChecksum(APP), before.sum, 'the volume was not touched');
  };

  before(async () => {
    e = await start();
    work = mkdtempSync(join(tmpdir(), `molt-conformance-${e.name}-`));
    const path = `conformance-${e.name}-${randomBytes(3).toString('hex')}/notes`;
    repo = `${e.site.registry.address}/${path}`;
    for (const [version, scripts] of Object.entries(SCRIPTS)) {
      digests[version] = await pushBusyboxImage(e.site.registry, path, version, {
        files: {
          '/app/VERSION': version,
          '/app/start.sh': { content: START, mode: 0o755 },
          '/app/pre-upgrade': { content: `#!/bin/sh\n${scripts.pre}`, mode: 0o755 },
          '/app/post-upgrade': { content: `#!/bin/sh\n${scripts.post}`, mode: 0o755 },
        },
        start: '/app/start.sh',
        labels: LABELS,
      });
    }
  });
  after(async () => {
    await e?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the exceptions in force are the ones README.md documents', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    for (const x of EXCEPTIONS) assert.match(readme, new RegExp(`\`${x.id}\``), `README.md documents ${x.id}`);
  });

  test('install: the app runs its version; status: Running, Ready, version, image, imageDigest', async () => {
    ok(await applyVersion({ version: '1.0.0' }), 'apply 1.0.0');
    const s = await settled('1.0.0');
    if (except('k8s-last-upgrade-shape')) assert.equal(s.lastUpgrade, undefined);
    else
      assert.deepEqual(
        [s.lastUpgrade?.kind, s.lastUpgrade?.to, s.lastUpgrade?.outcome],
        ['install', '1.0.0', 'Succeeded'],
      );
    await e.exec(APP, 'echo precious > /data/note');
    assert.equal(await scriptLog(), '', 'an install runs no upgrade script');
  });

  test('upgrade with scripts only in image labels: pre-upgrade in the old instance with <old> <new>, post-upgrade in the new', async () => {
    ok(await applyVersion({ version: '2.0.0' }), 'apply 2.0.0');
    const s = await settled('2.0.0');
    lastUpgrade(s, '1.0.0', '2.0.0', 'Succeeded');
    progressing(s, 'Succeeded');
    assert.equal(await scriptLog(), 'pre argc=2 1.0.0 2.0.0 in=1.0.0\npost argc=2 1.0.0 2.0.0 in=2.0.0\n');
    assert.equal(await note(), 'precious');
  });

  test('a pre-upgrade script that refuses: the old version keeps running, untouched', async () => {
    const instance = await e.instance(APP);
    const sum = await e.volumeChecksum(APP);
    failed(await applyVersion({ version: '3.0.0' }), 'PreUpgradeFailed', 'Aborted');
    const s = await settled('2.0.0');
    lastUpgrade(s, '2.0.0', '3.0.0', 'Aborted', 'PreUpgradeFailed');
    progressing(s, 'Aborted');
    assert.equal(await e.instance(APP), instance, 'the old instance was never stopped');
    assert.equal(await e.volumeChecksum(APP), sum, 'the volume is byte for byte as before');
  });

  test('a failing post-upgrade script: rolled back to the old version, the volume bytes restored', async () => {
    const sum = await e.volumeChecksum(APP);
    failed(await applyVersion({ version: '4.0.0' }), 'PostUpgradeFailed', 'RolledBack');
    const s = await settled('2.0.0');
    lastUpgrade(s, '2.0.0', '4.0.0', 'RolledBack', 'PostUpgradeFailed');
    progressing(s, 'RolledBack');
    if (except('k8s-no-volume-restore')) {
      // Today: the pods are back on 2.0.0 (settled above), on the data 4.0.0's scripts left.
      assert.notEqual(await e.volumeChecksum(APP), sum);
      assert.equal(await note(), 'half-migrated');
      assert.match(
        await scriptLog(),
        /pre argc=2 2\.0\.0 4\.0\.0 in=2\.0\.0\npost argc=2 2\.0\.0 4\.0\.0 in=4\.0\.0\n$/,
      );
    } else {
      assert.equal(await e.volumeChecksum(APP), sum, 'the volume bytes are exactly as before the upgrade');
      assert.equal(await note(), 'precious');
    }
  });

  test('a downgrade without forceUpgrade is refused; nothing changes', async () => {
    await refused({ version: '0.9.0', tag: '1.0.0' }, 'DowngradeRefused');
  });

  test('a package namespace switch without allowNamespaceSwitch is refused; nothing changes', async () => {
    await refused({ version: '5.0.0', tag: '2.0.0', pkg: 'elsewhere/notes' }, 'NamespaceSwitchRefused');
  });

  test('molt rollback: back to the version before, run as its digest, the data kept', async () => {
    const data = await note();
    const logBefore = await scriptLog();
    ok(await e.molt(['rollback', APP]), 'molt rollback');
    const s = await settled('1.0.0');
    lastUpgrade(s, '2.0.0', '1.0.0', 'Succeeded');
    assert.equal(await note(), data, 'the data is kept');
    const scripts = (await scriptLog()).slice(logBefore.length);
    if (except('k8s-rollback-runs-scripts'))
      assert.equal(scripts, 'pre argc=2 2.0.0 1.0.0 in=2.0.0\npost argc=2 2.0.0 1.0.0 in=1.0.0\n');
    else assert.equal(scripts, '', 'going back runs no upgrade script');
  });

  test('molt history: every operation, in order, with its outcome', async () => {
    const r = await e.molt(['history', APP]);
    ok(r, 'molt history');
    const heads = [...r.stdout.matchAll(/^#\d+ (\S+ \S+ → \S+) {3}(\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    const refusals = except('k8s-refusal-recorded')
      ? ['upgrade 2.0.0 → 0.9.0 Refused', 'upgrade 2.0.0 → 5.0.0 Refused']
      : [];
    const aborted = except('k8s-history-aborted-as-failed') ? 'Failed' : 'Aborted';
    assert.deepEqual(heads, [
      'install ∅ → 1.0.0 Succeeded',
      'upgrade 1.0.0 → 2.0.0 Succeeded',
      `upgrade 2.0.0 → 3.0.0 ${aborted}`,
      'upgrade 2.0.0 → 4.0.0 RolledBack',
      ...refusals,
      'rollback 2.0.0 → 1.0.0 Succeeded',
    ]);
  });
}
