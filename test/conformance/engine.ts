/**
 * What the conformance scenarios (scenarios.ts) stand on: the engine adapter each engine
 * file provides, the images (busybox + upgrade scripts declared only in labels, pushed to the
 * test registry through its API, so both engines pull the same bytes and record the same
 * digests), the one manifest, and the checks the scenarios share.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCRIPT_LABEL } from '../../src/core/model.ts';
import type { RunResult } from '../e2e/harness.ts';
import { pushBusyboxImage } from '../k8s/registry-push.ts';
import type { TestRegistry } from '../k8s/registry.ts';
import { excepted } from './exceptions.ts';

export type EngineName = 'podman' | 'kubernetes';

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

export const APP = 'conf';
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

type Change = { version: string; tag?: string; pkg?: string };

/**
 * One engine's run of the scenarios: the app's images pushed, and the checks the scenarios
 * share — each written once, the exceptions in force (exceptions.ts) deciding what the
 * excepted engine must show instead.
 */
export class Checks {
  readonly digests: Record<string, string> = {};
  readonly e: Engine;
  readonly repo: string;
  private readonly path: string;
  private readonly work: string;

  private constructor(e: Engine, work: string) {
    this.e = e;
    this.work = work;
    this.path = `conformance-${e.name}-${randomBytes(3).toString('hex')}/notes`;
    this.repo = `${e.site.registry.address}/${this.path}`;
  }

  /** Pushes one image per version of SCRIPTS to the engine's registry. */
  static async prepare(e: Engine): Promise<Checks> {
    const c = new Checks(e, mkdtempSync(join(tmpdir(), `molt-conformance-${e.name}-`)));
    for (const [version, scripts] of Object.entries(SCRIPTS)) {
      c.digests[version] = await pushBusyboxImage(e.site.registry, c.path, version, {
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
    return c;
  }

  async close(): Promise<void> {
    rmSync(this.work, { recursive: true, force: true });
  }

  except(id: string): boolean {
    return excepted(this.e.name, id);
  }

  /** `molt apply -f` of the manifest with this change. */
  apply(o: Change): Promise<RunResult> {
    const file = join(this.work, `${o.version}.yaml`);
    writeFileSync(file, manifest(this.e.site, this.repo, o));
    return this.e.molt(['apply', '-f', file]);
  }

  async status(): Promise<Status> {
    const r = await this.e.molt(['get', 'app', APP, '-o', 'json']);
    assert.equal(r.code, 0, `molt get app ${APP}: ${r.stderr}`);
    return JSON.parse(r.stdout).status;
  }

  async exec(cmd: string): Promise<string> {
    return this.e.exec(APP, cmd);
  }

  async note(): Promise<string> {
    return (await this.exec('cat /data/note')).trim();
  }

  /** What the upgrade scripts logged in the volume. */
  scriptLog(): Promise<string> {
    return this.exec('cat /data/scripts.log 2>/dev/null || true');
  }

  ok(r: RunResult, what: string): void {
    assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
  }

  /** `molt apply` failed with `code`; `outcome`: the upgrade ran and ended so (else it was refused). */
  failed(r: RunResult, code: string, outcome?: 'Aborted' | 'RolledBack'): void {
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^error\\[${code}\\]: `, 'm'));
    if (outcome === 'RolledBack')
      assert.match(r.stderr, /^\S+ was rolled back to \S+; its data is as it was before\.$/m);
    if (outcome === 'Aborted') assert.match(r.stderr, /^\S+ kept running; molt changed nothing\.$/m);
  }

  /** The status of an app that runs `version`, as both engines must show it; and that it runs it. */
  async settled(version: string): Promise<Status> {
    const s = await this.status();
    assert.equal(s.phase, 'Running', JSON.stringify(s));
    assert.equal(s.installedVersion, version);
    assert.equal(condition(s, 'Ready')?.status, 'True', 'Ready=True');
    assert.equal(condition(s, 'Progressing')?.status, 'False', 'Progressing=False: nothing in flight');
    assert.equal(s.image, `${this.repo}:${version}`);
    assert.equal(s.imageDigest, this.digests[version], 'status.imageDigest is the digest pushed to the registry');
    assert.equal((await this.exec('cat /app/VERSION')).trim(), version, 'the running instance is that version');
    return s;
  }

  /** status.lastUpgrade after an operation from → to that ended with outcome (and the failure code). */
  lastUpgrade(s: Status, from: string, to: string, outcome: string, code?: string): void {
    assert.deepEqual(
      { from: s.lastUpgrade?.from, to: s.lastUpgrade?.to, outcome: s.lastUpgrade?.outcome },
      { from, to, outcome },
    );
    if (this.except('k8s-last-upgrade-shape')) {
      assert.equal(s.lastUpgrade?.reason, code ?? 'UpgradeSucceeded');
      assert.equal(s.lastUpgrade?.error, undefined);
    } else {
      assert.equal(s.lastUpgrade?.error?.code, code);
      assert.equal(s.lastUpgrade?.reason, undefined);
    }
  }

  /** The Progressing condition's reason after an upgrade that ended with outcome. */
  progressing(s: Status, outcome: 'Succeeded' | 'Aborted' | 'RolledBack'): void {
    const reasons = this.except('k8s-progressing-reasons')
      ? { Succeeded: 'UpToDate', Aborted: 'Aborted', RolledBack: 'RolledBack' }
      : { Succeeded: 'UpgradeSucceeded', Aborted: 'UpgradeAborted', RolledBack: 'RolledBack' };
    assert.equal(condition(s, 'Progressing')?.reason, reasons[outcome]);
  }

  /** Applies a change that must be refused with `code`, and checks that nothing moved. */
  async refused(o: Change, code: string): Promise<void> {
    const before = {
      instance: await this.e.instance(APP),
      sum: await this.e.volumeChecksum(APP),
      s: await this.status(),
    };
    this.failed(await this.apply(o), code);
    const s = await this.settled(before.s.installedVersion ?? '');
    assert.deepEqual(s.lastUpgrade, before.s.lastUpgrade, 'no operation was recorded');
    if (this.except('k8s-refusal-recorded')) assert.equal(condition(s, 'Progressing')?.reason, code);
    else assert.deepEqual(condition(s, 'Progressing'), condition(before.s, 'Progressing'));
    assert.equal(await this.e.instance(APP), before.instance, 'the running instance was not touched');
    assert.equal(await this.e.volumeChecksum(APP), before.sum, 'the volume was not touched');
  }
}
