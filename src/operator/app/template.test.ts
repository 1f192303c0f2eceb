import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appManifest } from '../../testing/fixtures.ts';
import { execPodFor, serviceFor, specHash, statefulSetFor } from './template.ts';

const ref = { name: 'notes', namespace: 'ns', uid: 'u1' };
const probe = { exec: ['cat', '/tmp/ready'], periodSeconds: 0.5, failureThreshold: 30, timeoutSeconds: 2 };
const spec = appManifest({
  version: '1.0.0',
  image: 'localhost/notes:1',
  env: { B: '2', A: '1' },
  command: ['serve'],
  entrypoint: ['/bin/app'],
  probes: { startup: probe },
}).spec;

test('an inline app is a one-member OnDelete StatefulSet whose volumes are claim templates kept on delete', () => {
  const sts = statefulSetFor(ref, spec);
  assert.equal(sts.spec?.replicas, 1);
  assert.deepEqual(sts.spec?.updateStrategy, { type: 'OnDelete' });
  assert.deepEqual(sts.spec?.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
  assert.deepEqual(
    sts.spec?.volumeClaimTemplates?.map((c) => c.metadata.name),
    ['notes-data'],
  );
  assert.equal(sts.metadata.ownerReferences?.[0]?.controller, true);
  const c = sts.spec?.template.spec.containers[0];
  assert.deepEqual([c?.command, c?.args], [['/bin/app'], ['serve']], 'entrypoint → command, command (Cmd) → args');
  assert.deepEqual(c?.env, [
    { name: 'A', value: '1' },
    { name: 'B', value: '2' },
  ]);
  assert.deepEqual(c?.startupProbe, {
    periodSeconds: 1,
    timeoutSeconds: 2,
    failureThreshold: 30,
    exec: { command: ['cat', '/tmp/ready'] },
  });
  assert.equal(sts.spec?.template.metadata.labels?.['molt.dev/spec-hash'], specHash(spec));
  assert.equal(sts.spec?.template.metadata.labels?.['molt.dev/version'], '1.0.0');
  assert.equal(sts.spec?.template.spec.terminationGracePeriodSeconds, 10);
});

test('upgrade mode raises the startup budget and mounts the startup gate before the entrypoint runs', () => {
  const sts = statefulSetFor(ref, spec, { from: '1.0.0', to: '2.0.0', failureThreshold: 300, gate: true });
  const tpl = sts.spec?.template;
  assert.equal(tpl?.spec.containers[0]?.startupProbe?.failureThreshold, 300);
  assert.equal(tpl?.metadata.annotations?.['molt.dev/upgrade-gate'], '1.0.0 2.0.0');
  const mounts = tpl?.spec.containers[0]?.volumeMounts?.map(
    (m) => `${m.mountPath}${m.subPath ? `<-${m.subPath}` : ''}`,
  );
  assert.deepEqual(mounts, ['/data', '/.molt', '/.molt/upgrade<-upgrade']);
  assert.equal(
    tpl?.metadata.labels?.['molt.dev/spec-hash'],
    specHash(spec),
    'the mode does not change what the pod runs',
  );
  const normal = statefulSetFor(ref, spec);
  assert.equal(normal.spec?.template.spec.volumes, undefined);
});

test('the ExecPod sleeps in the new image with small limits, no token, owned by the App but not controlled', () => {
  const pod = execPodFor(ref, spec);
  assert.deepEqual(pod.spec?.containers[0]?.command, ['sleep', 'infinity']);
  assert.equal(pod.spec?.automountServiceAccountToken, false);
  assert.equal(pod.spec?.containers[0]?.resources?.limits?.['memory'], '64Mi');
  assert.equal(pod.metadata.ownerReferences?.[0]?.controller, false);
  assert.match(pod.metadata.name ?? '', /^notes-molt-exec-[0-9a-f]{10}$/);
  assert.equal((serviceFor(ref) as any).spec.clusterIP, 'None');
});

test('a registry image runs pinned to its digest; a localhost/ image (loaded onto the nodes) keeps its tag', () => {
  const d = `sha256:${'b'.repeat(64)}`;
  const remote = { ...spec, image: '10.244.0.1:5443/shop/notes:1' };
  assert.equal(
    statefulSetFor(ref, remote, undefined, d).spec?.template.spec.containers[0]?.image,
    `10.244.0.1:5443/shop/notes@${d}`,
  );
  assert.equal(execPodFor(ref, remote, d).spec?.containers[0]?.image, `10.244.0.1:5443/shop/notes@${d}`);
  assert.equal(statefulSetFor(ref, spec, undefined, d).spec?.template.spec.containers[0]?.image, 'localhost/notes:1');
});

test('volume size and StorageClass go on the claim templates; pull secrets and placement on the pod', () => {
  const s = {
    ...spec,
    volumes: [{ name: 'data', mountPath: '/data', size: '5Gi', storageClassName: 'fast' }],
    imagePullSecrets: [{ name: 'pull' }],
    nodeSelector: { disk: 'ssd' },
    tolerations: [{ key: 'db', operator: 'Exists' as const, effect: 'NoSchedule' as const }],
    serviceAccountName: 'notes',
  };
  const sts = statefulSetFor(ref, s);
  assert.deepEqual(sts.spec?.volumeClaimTemplates?.[0]?.['spec' as never], {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: '5Gi' } },
    storageClassName: 'fast',
  });
  const pod = sts.spec?.template.spec as Record<string, unknown>;
  assert.deepEqual(
    [pod.imagePullSecrets, pod.nodeSelector, pod.tolerations, pod.serviceAccountName],
    [[{ name: 'pull' }], { disk: 'ssd' }, [{ key: 'db', operator: 'Exists', effect: 'NoSchedule' }], 'notes'],
  );
  assert.notEqual(specHash(s), specHash(spec), 'the settings shape the pod');
  assert.deepEqual((execPodFor(ref, s).spec as Record<string, unknown>).imagePullSecrets, [{ name: 'pull' }]);
});
