import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appManifest } from '../../testing/fixtures.ts';
import { copyClaim, copyClaimFor, copyClaimSize, copyJobFor, copyJobName, memberClaim } from './volume-copy.ts';
import { copyClaimView, copyJobView } from './world.ts';

const ref = { name: 'notes', namespace: 'ns', uid: 'u' };
const spec = appManifest({
  version: '1.0.0',
  image: 'r.example/notes:1',
  volumes: [
    { name: 'data', mountPath: '/data' },
    { name: 'logs', mountPath: '/logs' },
  ],
}).spec;

test('names follow from app, member, volume and generation (idempotent), and fit their limits', () => {
  assert.equal(memberClaim('data', 'notes-0'), 'data-notes-0');
  assert.equal(copyClaim('data', 'notes-0', 7, 'snapshot'), 'data-notes-0-molt-g7');
  assert.equal(copyClaim('data', 'notes-0', 7, 'displaced'), 'data-notes-0-molt-g7-displaced');
  const long = `${'x'.repeat(52)}-0`;
  assert.ok(copyJobName(long, 123456789, 'snapshot').length <= 63);
  assert.equal(copyJobName('notes-0', 7, 'restore'), 'notes-0-molt-restore-g7');
});

test('a copy claim is sized for its archive beside the member claim, same class; it reads back as a view', () => {
  assert.equal(copyClaimSize('64Mi'), '80Mi');
  assert.equal(copyClaimSize('1Gi'), '1280Mi');
  assert.equal(copyClaimSize(undefined), '1280Mi');
  const claim = copyClaimFor({
    app: ref,
    member: 'notes-0',
    volume: 'data',
    generation: 4,
    kind: 'snapshot',
    from: '1.0.0',
    to: '2.0.0',
    size: '64Mi',
    storageClassName: 'fast',
  });
  assert.deepEqual(claim.spec, {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: '80Mi' } },
    storageClassName: 'fast',
  });
  claim.metadata.creationTimestamp = '2030-01-01T00:00:00Z';
  claim.metadata.annotations = { ...claim.metadata.annotations, 'molt.dev/bytes': '10240' };
  assert.deepEqual(copyClaimView(claim), {
    name: 'data-notes-0-molt-g4',
    member: 'notes-0',
    volume: 'data',
    generation: 4,
    kind: 'snapshot',
    createdAt: '2030-01-01T00:00:00Z',
    from: '1.0.0',
    to: '2.0.0',
    bytes: 10240,
  });
});

test('a snapshot Job mounts every member claim and its copy claim, beside the member; a restore also the displaced claim', () => {
  const base = { app: ref, spec, member: 'notes-0', generation: 4, image: 'img' };
  const snap = (copyJobFor({ ...base, op: 'snapshot', besidePod: 'notes-0' }).spec as any).template.spec;
  assert.deepEqual(
    snap.volumes.map((v: any) => v.persistentVolumeClaim.claimName),
    ['data-notes-0', 'data-notes-0-molt-g4', 'logs-notes-0', 'logs-notes-0-molt-g4'],
  );
  assert.deepEqual(snap.containers[0].command.slice(-3), ['snapshot', 'data', 'logs']);
  assert.equal(
    snap.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabels[
      'statefulset.kubernetes.io/pod-name'
    ],
    'notes-0',
  );
  const restore = (copyJobFor({ ...base, op: 'restore' }).spec as any).template.spec;
  assert.deepEqual(
    restore.containers[0].volumeMounts.map((m: any) => m.mountPath),
    [
      '/molt/volumes/data',
      '/molt/copies/data',
      '/molt/displaced/data',
      '/molt/volumes/logs',
      '/molt/copies/logs',
      '/molt/displaced/logs',
    ],
  );
  assert.equal(restore.affinity, undefined, 'the member is down during a restore');
  assert.equal(snap.imagePullSecrets, undefined);
  const pulled = (
    copyJobFor({ ...base, spec: { ...spec, imagePullSecrets: [{ name: 'pull' }] }, op: 'snapshot' }).spec as any
  ).template.spec;
  assert.deepEqual(pulled.imagePullSecrets, [{ name: 'pull' }], "the app's pull secrets reach molt's image too");
});

test("a copy Job's view: succeeded with the pod's report, or failed with why", () => {
  const job = copyJobFor({ app: ref, spec, member: 'notes-0', generation: 4, op: 'snapshot', image: 'img' });
  const pod = (exitCode: number, message: string, at: string) =>
    ({
      metadata: { name: `p${at}`, labels: { 'job-name': job.metadata.name }, creationTimestamp: at },
      status: { containerStatuses: [{ name: 'copy', state: { terminated: { exitCode, message } } }] },
    }) as any;
  const ok = copyJobView({ ...job, status: { succeeded: 1 } }, [pod(1, 'EIO', '1'), pod(0, '{"volumes":{}}', '2')]);
  assert.deepEqual(
    { succeeded: ok?.succeeded, failed: ok?.failed, message: ok?.message, op: ok?.op, generation: ok?.generation },
    { succeeded: true, failed: false, message: '{"volumes":{}}', op: 'snapshot', generation: 4 },
  );
  const failed = copyJobView(
    {
      ...job,
      status: { failed: 3, conditions: [{ type: 'Failed', status: 'True', message: 'BackoffLimitExceeded' }] },
    },
    [pod(1, 'EACCES: ./secret', '1')],
  );
  assert.equal(failed?.failed, true);
  assert.equal(failed?.message, 'EACCES: ./secret');
});
