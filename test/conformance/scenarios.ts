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

/** The documented differences (README.md, "Exceptions"); each is asserted where it applies. */
export const EXCEPTIONS: readonly { id: string; engine: EngineName; what: string }[] = [
  ...(K8S_RESTORES_VOLUMES
    ? []
    : [
        {
          id: 'k8s-no-volume-restore',
          engine: 'kubernetes' as const,
          what: 'a failed post-upgrade rolls the pods back, but the volume keeps what the failed script wrote',
        },
      ]),
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
  /** `molt apply -f FILE`, waiting as molt does. */
  apply(file: string): Promise<RunResult>;
  /** `molt rollback APP`. */
  rollback(app: string): Promise<RunResult>;
  /** The `status` of `molt get app APP -o json`. */
  status(app: string): Promise<Status>;
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
  lastUpgrade?: { from?: string; to: string; outcome: string; reason?: string; error?: { code: string } };
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

function ready(s: Status): string | undefined {
  return s.conditions?.find((c) => c.type === 'Ready')?.status;
}

/** The failure code of the last operation: `lastUpgrade.error.code` locally, `lastUpgrade.reason` on a cluster. */
export function failureCode(s: Status): string | undefined {
  return s.lastUpgrade?.error?.code ?? s.lastUpgrade?.reason;
}

/** Runs every scenario, in order, on the engine `start` returns. */
export function conformanceSuite(start: () => Promise<Engine>): void {
  let e: Engine;
  let work: string;
  let repo: string;
  const digests: Record<string, string> = {};
  const file = (name: string, text: string): string => {
    const path = join(work, name);
    writeFileSync(path, text);
    return path;
  };
  const applyVersion = (o: { version: string; tag?: string; pkg?: string }) =>
    e.apply(file(`${o.version}.yaml`, manifest(e.site, repo, o)));
  const running = async () => (await e.exec(APP, 'cat /app/VERSION')).trim();
  const scriptLog = async () => e.exec(APP, 'cat /data/scripts.log 2>/dev/null || true');
  const ok = (r: RunResult, what: string) => assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
  const settled = async (version: string, digest: string | undefined): Promise<Status> => {
    const s = await e.status(APP);
    assert.equal(s.phase, 'Running', JSON.stringify(s));
    assert.equal(s.installedVersion, version);
    assert.equal(ready(s), 'True', 'Ready=True');
    assert.equal(s.image, `${repo}:${version}`);
    assert.equal(s.imageDigest, digest, 'status.imageDigest is the digest pushed to the registry');
    assert.equal(await running(), version, 'the running instance is that version');
    return s;
  };
  /** Applies a change that must be refused, and checks that nothing moved. */
  const refused = async (o: { version: string; tag?: string; pkg?: string }, code: string) => {
    const before = { instance: await e.instance(APP), sum: await e.volumeChecksum(APP), s: await e.status(APP) };
    const r = await applyVersion(o);
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`error\\[${code}\\]`));
    await settled(before.s.installedVersion ?? '', before.s.imageDigest);
    assert.equal(await e.instance(APP), before.instance, 'the running instance was not touched');
    assert.equal(await e.volumeChecksum(APP), before.sum, 'the volume was not touched');
  };

  before(async () => {
    e = await start();
    work = mkdtempSync(join(tmpdir(), `molt-conformance-${e.name}-`));
    repo = `${e.site.registry.address}/conformance-${e.name}-${randomBytes(3).toString('hex')}/notes`;
    const [, path] = /^[^/]+\/(.*)$/.exec(repo) ?? [];
    for (const [version, scripts] of Object.entries(SCRIPTS)) {
      digests[version] = await pushBusyboxImage(e.site.registry, path ?? '', version, {
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
    await settled('1.0.0', digests['1.0.0']);
    await e.exec(APP, 'echo precious > /data/note');
    assert.equal(await scriptLog(), '', 'an install runs no upgrade script');
  });

  test('upgrade with scripts only in image labels: pre-upgrade in the old instance with <old> <new>, post-upgrade in the new', async () => {
    ok(await applyVersion({ version: '2.0.0' }), 'apply 2.0.0');
    const s = await settled('2.0.0', digests['2.0.0']);
    assert.equal(s.lastUpgrade?.outcome, 'Succeeded');
    assert.equal(s.lastUpgrade?.from, '1.0.0');
    assert.equal(s.lastUpgrade?.to, '2.0.0');
    assert.equal(await scriptLog(), 'pre argc=2 1.0.0 2.0.0 in=1.0.0\npost argc=2 1.0.0 2.0.0 in=2.0.0\n');
    assert.equal((await e.exec(APP, 'cat /data/note')).trim(), 'precious');
  });

  test('a pre-upgrade script that refuses: the old version keeps running, untouched', async () => {
    const instance = await e.instance(APP);
    const sum = await e.volumeChecksum(APP);
    const r = await applyVersion({ version: '3.0.0' });
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /PreUpgradeFailed/);
    const s = await settled('2.0.0', digests['2.0.0']);
    assert.equal(s.lastUpgrade?.outcome, 'Aborted');
    assert.equal(failureCode(s), 'PreUpgradeFailed');
    assert.equal(await e.instance(APP), instance, 'the old instance was never stopped');
    assert.equal(await e.volumeChecksum(APP), sum, 'the volume is byte for byte as before');
  });

  test('a failing post-upgrade script: rolled back to the old version, the volume bytes restored', async () => {
    const sum = await e.volumeChecksum(APP);
    const r = await applyVersion({ version: '4.0.0' });
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /PostUpgradeFailed/);
    const s = await settled('2.0.0', digests['2.0.0']);
    assert.equal(s.lastUpgrade?.outcome, 'RolledBack');
    assert.equal(failureCode(s), 'PostUpgradeFailed');
    if (excepted(e.name, 'k8s-no-volume-restore')) {
      // Today: the pods are back on 2.0.0 (settled above), on the data 4.0.0's scripts left.
      assert.notEqual(await e.volumeChecksum(APP), sum);
      assert.equal((await e.exec(APP, 'cat /data/note')).trim(), 'half-migrated');
      assert.match(await scriptLog(), /post argc=2 2\.0\.0 4\.0\.0 in=4\.0\.0\n$/);
    } else {
      assert.equal(await e.volumeChecksum(APP), sum, 'the volume bytes are exactly as before the upgrade');
      assert.equal((await e.exec(APP, 'cat /data/note')).trim(), 'precious');
    }
  });

  test('a downgrade without forceUpgrade is refused; nothing changes', async () => {
    await refused({ version: '0.9.0', tag: '1.0.0' }, 'DowngradeRefused');
  });

  test('a package namespace switch without allowNamespaceSwitch is refused; nothing changes', async () => {
    await refused({ version: '5.0.0', tag: '2.0.0', pkg: 'elsewhere/notes' }, 'NamespaceSwitchRefused');
  });

  test('molt rollback: back to the version before, its digest, the data kept', async () => {
    const note = (await e.exec(APP, 'cat /data/note')).trim();
    const logBefore = await scriptLog();
    ok(await e.rollback(APP), 'molt rollback');
    const s = await settled('1.0.0', digests['1.0.0']);
    assert.equal(s.lastUpgrade?.outcome, 'Succeeded');
    assert.equal(s.lastUpgrade?.to, '1.0.0');
    assert.equal((await e.exec(APP, 'cat /data/note')).trim(), note, 'the data is kept');
    assert.equal((await scriptLog()).slice(logBefore.length), '', 'a rollback runs no upgrade script');
  });
}
