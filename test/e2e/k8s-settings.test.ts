/**
 * The pod-template mapping of the container settings (issue 13) on the real cluster of
 * test/k8s: the StatefulSet molt builds for an inline App with ports, limits, a numeric user,
 * workingDir, shmSize, tmpfs, a healthcheck and containerLabels is accepted by the API server,
 * and its pod runs with them in effect (seen from inside the container).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appDocument } from '../../src/core/schema.ts';
import type { AppSpec } from '../../src/core/model.ts';
import { statefulSetFor } from '../../src/operator/app/template.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDockerArchive } from '../images/build.ts';
import { ensureCluster, kubectl, kubectlResult, loadImage, stopClusterIfStarted, waitFor } from '../k8s/cluster.ts';

const NS = `molt-settings-${randomBytes(3).toString('hex')}`;
const IMAGE = `localhost/molt-settings-app:${randomBytes(3).toString('hex')}`;

before(async () => {
  await ensureCluster();
  const dir = mkdtempSync(join(tmpdir(), 'molt-k8s-settings-'));
  try {
    await writeDockerArchive(
      join(dir, 'app.tar'),
      IMAGE,
      { '/app/start.sh': { content: '#!/bin/sh\nexec sleep 3600\n', mode: 0o755 } },
      '/app/start.sh',
    );
    loadImage(join(dir, 'app.tar'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  kubectl(['create', 'namespace', NS]);
});
after(() => {
  try {
    kubectlResult(['delete', 'namespace', NS, '--wait=false']);
  } finally {
    stopClusterIfStarted();
  }
});

test("an App's settings become a pod that runs with them", async () => {
  const spec = appDocument().parse({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name: 'sett' },
    spec: {
      package: 'test/settings',
      version: '1.0.0-1',
      image: IMAGE,
      entrypoint: ['sh', '-c', 'touch /scratch/ready; exec sleep 3600'],
      ports: ['8080:80'],
      resources: { memory: '64Mi', cpus: '0.5' },
      user: '1000:1000',
      workingDir: '/tmp',
      shmSize: '32Mi',
      tmpfs: [{ mountPath: '/scratch', size: '16Mi' }],
      healthcheck: { exec: ['cat', '/scratch/ready'], periodSeconds: 2, failureThreshold: 3 },
      containerLabels: { 'example.com/team': 'db' },
    },
  }).spec as AppSpec;
  const sts = statefulSetFor({ name: 'sett', namespace: NS, uid: '' }, spec);
  delete (sts.metadata as { ownerReferences?: unknown }).ownerReferences; // no App object here: the template alone is under test
  kubectl(['-n', NS, 'apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'apps/v1', kind: 'StatefulSet', ...sts }),
  });
  const pod = 'molt-sett-0';
  const name = await waitFor(
    `pod of sett ready in ${NS}`,
    () => {
      const pods = JSON.parse(kubectl(['-n', NS, 'get', 'pods', '-o', 'json'])) as {
        items: { metadata: { name: string }; status: { containerStatuses?: { ready: boolean }[] } }[];
      };
      return pods.items.find((p) => p.status.containerStatuses?.[0]?.ready)?.metadata.name;
    },
    180_000,
  ).catch((e: Error) => {
    throw new Error(
      `${e.message}\n${kubectlResult(['-n', NS, 'describe', 'statefulset,pods']).stdout}\n${kubectlResult(['-n', NS, 'get', 'events']).stdout}`,
    );
  });
  assert.ok(name.endsWith('-0'), `${name} (expected like ${pod})`);
  const live = JSON.parse(kubectl(['-n', NS, 'get', 'pod', name, '-o', 'json'])) as {
    metadata: { annotations: Record<string, string> };
    spec: { containers: Record<string, any>[]; securityContext: Record<string, unknown> };
  }; // eslint-disable-line @typescript-eslint/no-explicit-any
  const c = live.spec.containers[0]!;
  assert.deepEqual(c.resources.limits, { cpu: '500m', memory: '64Mi' });
  assert.deepEqual(
    c.ports.map((p: { containerPort: number }) => p.containerPort),
    [80],
  );
  assert.deepEqual(c.livenessProbe.exec.command, ['cat', '/scratch/ready']);
  assert.equal(live.spec.securityContext.runAsUser, 1000);
  assert.equal(live.metadata.annotations['example.com/team'], 'db');
  const inside = kubectl([
    '-n',
    NS,
    'exec',
    name,
    '--',
    'sh',
    '-c',
    'id -u; id -g; pwd; df -k /dev/shm | tail -1; df -k /scratch | tail -1; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes',
  ]);
  const lines = inside.trim().split('\n');
  assert.deepEqual(lines.slice(0, 3), ['1000', '1000', '/tmp'], inside);
  assert.match(lines[3]!, /^tmpfs\s+32768\s/, `/dev/shm: ${lines[3]}`);
  assert.match(lines[4]!, /^tmpfs\s+16384\s/, `/scratch: ${lines[4]}`);
  assert.equal(lines[5], String(64 * 1024 * 1024), "the memory limit in the container's cgroup");
});
