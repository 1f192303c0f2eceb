/**
 * Helpers for the UpgradeTask end-to-end tests: a labelled fleet of the test app installed
 * with one `molt apply` per chunk (explicit IPs, so parallel installs never race for an
 * address), task documents, and reading a task back as JSON.
 */
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { appDoc, molt, writeManifest, type MoltEnv } from './molt-cli.ts';

/** One app of a fleet. */
export interface FleetApp {
  name: string;
  image: string;
  ipv4: string;
}

/** The apps `prefix-00` … with images from `repoOf(i)`, IPs from the subnet's .20 upward. */
export function fleet(
  prefix: string,
  count: number,
  subnet: string,
  repoOf: (i: number) => string,
  version: string,
  firstHost = 20,
): FleetApp[] {
  const base = subnet.split('/')[0]?.split('.').slice(0, 3).join('.') ?? '10.90.0';
  return Array.from({ length: count }, (_, i) => ({
    name: `${prefix}-${String(i).padStart(2, '0')}`,
    image: `${repoOf(i)}:${version}`,
    ipv4: `${base}.${firstHost + i}`,
  }));
}

/** Installs the apps at `version` with `labels` (chunks of `perProcess` in parallel molt processes). */
export async function installFleet(
  m: MoltEnv,
  apps: FleetApp[],
  o: {
    version: string;
    network: string;
    subnet: string;
    labels: Record<string, string>;
    perProcess?: number;
    extraArgs?: string[];
    failureThreshold?: number;
    env?: Record<string, string>;
  },
): Promise<void> {
  const per = o.perProcess ?? 5;
  const chunks: FleetApp[][] = [];
  for (let i = 0; i < apps.length; i += per) chunks.push(apps.slice(i, i + per));
  await Promise.all(
    chunks.map(async (chunk, n) => {
      const docs = chunk.map((a) => {
        const d = appDoc({
          name: a.name,
          version: o.version,
          image: a.image,
          network: o.network,
          subnet: o.subnet,
          ipv4: a.ipv4,
          ...(o.failureThreshold ? { failureThreshold: o.failureThreshold } : {}),
        }) as { metadata: { labels: Record<string, string> } };
        d.metadata.labels = { ...o.labels };
        return stringify(d);
      });
      const file = writeManifest(m, `fleet-${chunk[0]?.name}-${n}.yaml`, docs.join('---\n'));
      const r = await molt(m, [...(o.extraArgs ?? []), 'apply', '-f', file], o.env);
      assert.equal(r.code, 0, `install ${chunk.map((a) => a.name).join(',')}: ${r.stderr}`);
    }),
  );
}

/** An UpgradeTask document. */
export function taskDoc(name: string, spec: Record<string, unknown>): string {
  return stringify({ apiVersion: 'molt.dev/v1alpha1', kind: 'UpgradeTask', metadata: { name }, spec });
}

/** The task object from `molt task get NAME -o json`. */
export async function getTask(m: MoltEnv, name: string, args: string[] = []): Promise<TaskJson> {
  const r = await molt(m, [...args, 'task', 'get', name, '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as TaskJson;
}

/** The parts of a task object the tests read. */
export interface TaskJson {
  metadata: { name: string };
  spec: Record<string, unknown>;
  status: {
    phase: string;
    reason?: string;
    message?: string;
    startTime?: string;
    completedTime?: string;
    retries: number;
    runs: number;
    counts: { total: number; done: number; failed: number; running: number; pending: number; notStarted: number };
    targets: Array<{
      target: string;
      endpoint: string;
      app: string;
      phase: string;
      reason: string;
      message: string;
      fromVersion: string | null;
      toVersion: string | null;
      attempts: number;
      operation: number | null;
      startTime: string | null;
      completedTime: string | null;
    }>;
    upgradeDetailedStatuses: Array<{
      target: string;
      step: string;
      startTime: string;
      lastUpdatedAt: string;
      phase: string;
      message: string;
      reason: string;
    }>;
  };
}

/** The step names of an app's operations, from `molt history NAME -o json`, per operation id. */
export async function historySteps(
  m: MoltEnv,
  app: string,
  args: string[] = [],
): Promise<Array<{ id: number; kind: string; to: string; outcome: string; steps: string[] }>> {
  const r = await molt(m, [...args, 'history', app, '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return (
    JSON.parse(r.stdout) as Array<{
      id: number;
      kind: string;
      to: string;
      outcome: string;
      steps: Array<{ name: string }>;
    }>
  ).map((o) => ({ id: o.id, kind: o.kind, to: o.to, outcome: o.outcome, steps: o.steps.map((s) => s.name) }));
}
