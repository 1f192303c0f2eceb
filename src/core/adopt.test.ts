import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adoptManifest, adoptedVersion, packageOfImage } from './adopt.ts';
import { requestOf, type ContainerDefinition, type ProcessSettings } from './inherit.ts';
import { appDocument } from './schema.ts';
import type { AppManifest } from './model.ts';

const image: ProcessSettings = {
  cmd: ['/app/run', 'default'],
  env: ['PATH=/bin', 'APP_VERSION=1'],
  labels: { 'img.label': 'x' },
};

function definition(over: Partial<ContainerDefinition> = {}): ContainerDefinition {
  return {
    id: 'abcdef0123456789',
    name: 'db',
    image: 'registry.example:5000/acme/db:1.2.3',
    imageId: 'sha256:1',
    running: true,
    process: {
      cmd: ['/app/run', 'custom'],
      env: ['container=podman', 'PATH=/bin', 'APP_VERSION=1', 'FOO=bar', 'HOSTNAME=abc'],
      labels: { 'img.label': 'x', team: 'data' },
      workingDir: '/',
      stopSignal: '15',
    },
    networks: {
      front: { ipv4: '10.90.1.20', mac: 'de:ad:be:ef:00:01', static: true },
      back: { ipv4: '10.91.0.3', static: false },
    },
    stopTimeoutSeconds: 10,
    mounts: [
      { type: 'volume', source: 'dbdata', destination: '/data', readOnly: false },
      { type: 'bind', source: '/srv/conf', destination: '/etc/db', readOnly: true },
      { type: 'tmpfs', source: '', destination: '/run', readOnly: false },
    ],
    settings: {
      ports: [{ hostIP: '127.0.0.1', hostPort: 5432, containerPort: 5432, protocol: 'tcp' }],
      restart: { name: 'always', maximumRetryCount: 0 },
      memoryBytes: 67108864,
      pidsLimit: 2048,
      shmSizeBytes: 65536000,
      tmpfs: [{ mountPath: '/run' }],
    },
    raw: {},
    ...over,
  };
}

test('the adopted manifest spells out what the user set, and validates as an App', () => {
  const { manifest, inherited } = adoptManifest(definition(), image, {});
  const parsed = appDocument().parse(manifest);
  const s = parsed.spec;
  assert.equal(s.version, '1.2.3');
  assert.equal(s.package, 'acme/db');
  assert.equal(s.image, 'registry.example:5000/acme/db:1.2.3');
  assert.deepEqual(s.command, ['/app/run', 'custom']);
  assert.deepEqual(s.env, { FOO: 'bar' }, 'neither image defaults nor engine env');
  assert.deepEqual(s.volumes, [
    { name: 'dbdata', mountPath: '/data' },
    { hostPath: '/srv/conf', mountPath: '/etc/db', readOnly: true },
  ]);
  assert.deepEqual(s.tmpfs, [{ mountPath: '/run' }]);
  assert.deepEqual(s.network, { name: 'front', ipv4: '10.90.1.20' });
  assert.deepEqual(s.ports, ['127.0.0.1:5432:5432']);
  assert.equal(s.restart, 'always');
  assert.deepEqual(s.resources, { memory: 67108864 });
  assert.equal(s.shmSize, undefined, "the engine's default /dev/shm is not the user's");
  assert.equal(s.workingDir, undefined);
  assert.equal(s.stopSignal, undefined);
  assert.deepEqual(s.containerLabels, { team: 'data' });
  assert.deepEqual(inherited, ['network back', 'pids limit 2048']);
});

test('a container without a restart policy says restart: "no" (an app\'s default would be unless-stopped)', () => {
  const def = definition({ settings: { ports: [], restart: { name: 'no', maximumRetryCount: 0 }, tmpfs: [] } });
  assert.equal(appDocument().parse(adoptManifest(def, image, {}).manifest).spec.restart, 'no');
});

test('version: --version, else the image tag when it is a version, else refused saying what to pass', () => {
  assert.equal(adoptedVersion(definition(), '2.0.0-1'), '2.0.0-1');
  assert.throws(
    () => adoptedVersion(definition({ image: 'db:latest' }), undefined),
    (e: Error & { hint?: string }) =>
      /the tag "latest", which is not a version/.test(e.message) && /molt adopt db --version/.test(e.hint ?? ''),
  );
  assert.throws(() => adoptedVersion(definition({ image: 'db' }), undefined), /has no tag/);
  assert.throws(() => adoptedVersion(definition(), 'v2'), /--version v2 is not a version/);
});

test('names that cannot be an app, and containers on no network, are refused with a fix', () => {
  assert.throws(
    () => adoptManifest(definition({ name: 'my_db' }), image, {}),
    (e: Error & { hint?: string }) =>
      /not a DNS label/.test(e.message) && /molt adopt my_db --name my-db/.test(e.hint ?? ''),
  );
  assert.throws(() => adoptManifest(definition({ networks: {} }), image, {}), /no network/);
});

test('package from the image repository', () => {
  assert.equal(packageOfImage('postgres:16.4.0'), 'local/postgres');
  assert.equal(packageOfImage('localhost/e2e-app:1.0.0'), 'localhost/e2e-app');
  assert.equal(packageOfImage('docker.io/library/Redis:7@sha256:00'), 'library/redis');
});

test("an adopted app's upgrade request: the manifest owns env, labels, user; labels dropped from it are unset", () => {
  const previous = appDocument().parse(adoptManifest(definition(), image, {}).manifest) as AppManifest;
  const next: AppManifest = {
    ...previous,
    spec: { ...previous.spec, version: '1.3.0', image: 'acme/db:1.3.0', containerLabels: {}, user: '999' },
  };
  const r = requestOf(next, previous, false);
  assert.deepEqual(r.env, { FOO: 'bar' });
  assert.equal(r.envExact, true);
  assert.deepEqual(r.unsetLabels, ['team']);
  assert.equal(r.user, '999');
  assert.deepEqual(
    requestOf(next, previous, true),
    { image: 'acme/db:1.3.0', cmd: ['/app/run', 'custom'] },
    'standalone: only image and argv',
  );
});
