import assert from 'node:assert/strict';
import { test } from 'node:test';
import { releaseAppDocument, releaseDocument } from '../core/release-schema.ts';
import { appManifest } from '../testing/fixtures.ts';
import { specHash } from './app/template.ts';
import { roleSetFor } from './release/template.ts';

test("a Release role's StatefulSet carries the role's settings, like an inline app's", () => {
  const release = releaseDocument().parse({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'Release',
    metadata: { name: 'kv-1' },
    spec: {
      package: 'test/kv',
      version: '1.0.0-1',
      roles: [
        {
          name: 'a',
          image: 'kv:1',
          volumes: [{ name: 'data', mountPath: '/data' }],
          ports: ['6379:6379'],
          resources: { memory: '256Mi', cpus: 0.5 },
          user: '999:999',
          shmSize: '64Mi',
          containerLabels: { team: 'kv' },
        },
      ],
    },
  });
  const app = releaseAppDocument().parse({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name: 'kv' },
    spec: { release: 'kv-1', roles: [{ name: 'a', members: 2 }] },
  });
  const sts = roleSetFor({ name: 'kv', namespace: 'ns', uid: 'u' }, app, release, 'a', 2, false);
  const pod = sts.spec!.template;
  const c = pod.spec.containers[0]!;
  assert.deepEqual(c.ports, [{ containerPort: 6379, protocol: 'TCP' }]);
  assert.deepEqual(c.resources, { limits: { memory: '256Mi', cpu: '500m' } });
  assert.deepEqual(pod.spec.securityContext, {
    runAsUser: 999,
    runAsGroup: 999,
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  });
  assert.deepEqual(
    c.volumeMounts?.map((m) => m.mountPath),
    ['/data', '/dev/shm'],
  );
  assert.equal(pod.metadata.annotations?.team, 'kv');
});

test('a changed setting changes the spec hash (the pod is replaced); an absent one leaves it as before', () => {
  const base = appManifest().spec;
  assert.notEqual(specHash({ ...base, resources: { memory: '1Gi' } }), specHash(base));
  assert.equal(specHash({ ...base, ports: undefined }), specHash(base));
});
