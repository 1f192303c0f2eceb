/**
 * Running the real `bin/molt` against a harness's Podman, as a user would, plus the small
 * test app every CLI end-to-end test upgrades.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildTestImage, run, startPodman, type PodmanHarness, type RunResult } from './harness.ts';
import { harnessWaitMs, moltLimitMs } from '../command-limit.ts';

const MOLT = new URL('../../bin/molt', import.meta.url).pathname;

/** A molt home plus a harness: where one test's molt keeps its state. */
export interface MoltEnv {
  h: PodmanHarness;
  home: string;
  dir: string;
}

/** What most end-to-end files share: a private Podman, a molt home, a network and its subnet. */
export interface Testbed {
  h: PodmanHarness;
  m: MoltEnv;
  net: string;
  subnet: string;
}

/** Starts a private Podman with a molt home and picks a network name and subnet for this file. */
export async function startTestbed(): Promise<Testbed> {
  const h = await startPodman();
  return { h, m: moltEnv(h), net: h.name('net'), subnet: h.freeSubnet() };
}

/** A fresh molt home beside the harness. */
export function moltEnv(h: PodmanHarness): MoltEnv {
  const dir = mkdtempSync(join(h.dir, 'molt-'));
  return { h, home: join(dir, 'home'), dir };
}

/** Environment for a molt child process. */
export function moltProcessEnv(m: MoltEnv, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...m.h.env,
    CONTAINER_HOST: `unix://${m.h.socket}`,
    MOLT_HOME: m.home,
    NO_COLOR: '1',
    ...extra,
  };
}

/** Runs `molt ARGS` and waits for it — at least as long as the command's own time limit allows (test/command-limit.ts). */
export function molt(m: MoltEnv, args: string[], extra: Record<string, string> = {}): Promise<RunResult> {
  const limitMs = moltLimitMs(args);
  return run(MOLT, args, moltProcessEnv(m, extra), undefined, harnessWaitMs(limitMs, 180_000), { limitMs });
}

/** Starts `molt ARGS` without waiting (for kill and concurrency tests). */
export function spawnMolt(m: MoltEnv, args: string[], extra: Record<string, string> = {}) {
  return spawn(MOLT, args, { env: moltProcessEnv(m, extra), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Writes a manifest object as YAML into the test's dir and returns its path. */
export function writeManifest(m: MoltEnv, name: string, manifest: unknown): string {
  const file = join(m.dir, name);
  writeFileSync(file, typeof manifest === 'string' ? manifest : stringify(manifest));
  return file;
}

/** The test app's start script: records its argv, then serves readiness until SIGTERM. */
const RUN_SCRIPT = `#!/bin/sh
trap 'exit 0' TERM
echo "$*" > /tmp/argv
mkdir -p /data
[ -n "$EXIT_AT_START" ] && { echo "exiting at start: $EXIT_AT_START" >&2; exit 7; }
[ -z "$NEVER_READY" ] && touch /tmp/ready
while true; do sleep 1 & wait $!; done
`;

/** Builds a version of the test app; its image CMD is `/app/run image-default-<version>`. */
export async function buildApp(
  h: PodmanHarness,
  repo: string,
  version: string,
  env: Record<string, string> = {},
  cmd?: string[],
): Promise<string> {
  const tag = `${repo}:${version}`;
  await buildTestImage(h, {
    tag,
    cmd: cmd ?? ['/app/run', `image-default-${version}`],
    env: { APP_VERSION: version, ...env },
    files: { '/app/run': { content: RUN_SCRIPT, mode: 0o755 } },
  });
  return tag;
}

/** A manifest object for the test app. */
export function appDoc(o: {
  name: string;
  version: string;
  image: string;
  network: string;
  subnet: string;
  ipv4?: string;
  pkg?: string;
  command?: string[];
  forceUpgrade?: boolean;
  allowNamespaceSwitch?: boolean;
  failureThreshold?: number;
  upgrade?: Record<string, unknown>;
  restart?: string;
}): unknown {
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name: o.name, labels: { suite: 'e2e' } },
    spec: {
      package: o.pkg ?? 'test/app',
      version: o.version,
      image: o.image,
      ...(o.command ? { command: o.command } : {}),
      volumes: [{ name: `${o.name}-data`, mountPath: '/data' }],
      network: { name: o.network, subnet: o.subnet, ...(o.ipv4 ? { ipv4: o.ipv4 } : {}) },
      probes: {
        startup: { exec: ['cat', '/tmp/ready'], periodSeconds: 0.2, failureThreshold: o.failureThreshold ?? 15 },
      },
      stopTimeoutSeconds: 2,
      ...(o.restart ? { restart: o.restart } : {}),
      upgradeConfig: { forceUpgrade: o.forceUpgrade ?? false, allowNamespaceSwitch: o.allowNamespaceSwitch ?? false },
      ...(o.upgrade ? { upgrade: o.upgrade } : {}),
    },
  };
}
