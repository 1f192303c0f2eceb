import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  imageTag,
  inheritProcess,
  requireImageChange,
  signalName,
  userSetEnv,
  userSetLabels,
  versionOfImage,
  type ContainerDefinition,
  type ProcessSettings,
} from './inherit.ts';

const oldImage: ProcessSettings = {
  cmd: ['/app/run', 'default-1'],
  env: ['PATH=/bin', 'APP_VERSION=1', 'A=1'],
  labels: { 'img.label': 'x', 'dev.molt.pre-upgrade': '/pre' },
  workingDir: '/srv',
  user: 'app',
  stopSignal: 'SIGINT',
};
const newImage: ProcessSettings = {
  cmd: ['/app/run', 'default-2'],
  env: ['PATH=/usr/bin:/bin', 'APP_VERSION=2', 'A=1', 'NEW=yes'],
  labels: { 'img.label': 'y' },
  workingDir: '/opt',
  user: 'app2',
  stopSignal: 'SIGQUIT',
};
/** A container run from oldImage with the image's defaults and what the engine adds itself. */
const plain: ProcessSettings = {
  cmd: ['/app/run', 'default-1'],
  env: ['container=podman', 'PATH=/bin', 'APP_VERSION=1', 'A=1', 'HOSTNAME=abc', 'HOME=/root', 'TERM=xterm'],
  labels: { 'img.label': 'x', 'dev.molt.pre-upgrade': '/pre' },
  workingDir: '/srv',
  user: 'app',
  stopSignal: 'SIGINT',
};

test('seed 002 CMD4: a container running its image default gets the new image default (CMD2 never carried over)', () => {
  const r = inheritProcess(plain, oldImage, newImage, { image: 'new:2' });
  assert.equal(r.cmd, undefined);
  assert.equal(r.entrypoint, undefined);
  assert.equal(r.image, 'new:2');
});

test('seed 002 CMD1: a customised command is kept', () => {
  const r = inheritProcess({ ...plain, cmd: ['/app/run', 'custom'] }, oldImage, newImage, { image: 'new:2' });
  assert.deepEqual(r.cmd, ['/app/run', 'custom']);
});

test('seed 002 CMD3: the requested command wins over a customised one', () => {
  const r = inheritProcess({ ...plain, cmd: ['/app/run', 'custom'] }, oldImage, newImage, {
    image: 'new:2',
    cmd: ['sh'],
    entrypoint: ['/bin/env'],
  });
  assert.deepEqual(r.cmd, ['sh']);
  assert.deepEqual(r.entrypoint, ['/bin/env']);
});

test('env: the new image defaults plus what the user set; engine-added and old-image defaults dropped', () => {
  const r = inheritProcess({ ...plain, env: [...plain.env, 'FOO=bar', 'A=2'] }, oldImage, newImage, { image: 'new:2' });
  assert.deepEqual(r.env.sort(), ['A=2', 'APP_VERSION=2', 'FOO=bar', 'NEW=yes', 'PATH=/usr/bin:/bin']);
});

test('env: a manifest owning the env replaces the user variables; a request adds to them', () => {
  const old = { ...plain, env: [...plain.env, 'FOO=bar', 'GONE=1'] };
  assert.deepEqual(
    inheritProcess(old, oldImage, newImage, { image: 'n', env: { FOO: 'baz' }, envExact: true }).env.sort(),
    ['A=1', 'APP_VERSION=2', 'FOO=baz', 'NEW=yes', 'PATH=/usr/bin:/bin'],
  );
  assert.ok(inheritProcess(old, oldImage, newImage, { image: 'n', env: { X: '1' } }).env.includes('GONE=1'));
});

test('workingDir, user, stopSignal: from the new image unless the user set them on the old container', () => {
  const same = inheritProcess(plain, oldImage, newImage, { image: 'n' });
  assert.deepEqual([same.workingDir, same.user, same.stopSignal], [undefined, undefined, undefined]);
  const set = inheritProcess(
    { ...plain, workingDir: '/data', user: '1000:1000', stopSignal: 'SIGUSR1' },
    oldImage,
    newImage,
    { image: 'n' },
  );
  assert.deepEqual([set.workingDir, set.user, set.stopSignal], ['/data', '1000:1000', 'SIGUSR1']);
  const req = inheritProcess(plain, oldImage, newImage, {
    image: 'n',
    user: 'root',
    workingDir: '/x',
    stopSignal: 'SIGHUP',
  });
  assert.deepEqual([req.workingDir, req.user, req.stopSignal], ['/x', 'root', 'SIGHUP']);
});

test('engine defaults are not the user\'s: WorkingDir "/" and StopSignal 15 on an image without them', () => {
  const bare: ProcessSettings = { env: [], labels: {} };
  const r = inheritProcess({ env: [], labels: {}, workingDir: '/', user: '', stopSignal: '15' }, bare, newImage, {
    image: 'n',
  });
  assert.deepEqual([r.workingDir, r.user, r.stopSignal], [undefined, undefined, undefined]);
  assert.equal(signalName('15'), 'TERM');
  assert.equal(signalName('SIGTERM'), 'TERM');
});

test("labels: the user's are kept, the old image's and molt's own are not; a request sets and unsets", () => {
  assert.deepEqual(userSetLabels({ 'img.label': 'x', mine: '1', 'dev.molt.app': 'a' }, { 'img.label': 'x' }), {
    mine: '1',
  });
  const r = inheritProcess({ ...plain, labels: { ...plain.labels, mine: '1', other: '2' } }, oldImage, newImage, {
    image: 'n',
    labels: { added: '3' },
    unsetLabels: ['other'],
  });
  assert.deepEqual(r.labels, { mine: '1', added: '3' });
});

test("userSetEnv: a variable whose value differs from the image is the user's", () => {
  assert.deepEqual([...userSetEnv(['A=1', 'B=2', 'HOME=/root'], ['A=1', 'B=1'])], [['B', '2']]);
});

test('the same image is refused like pouch: "image not changed"', () => {
  const def: ContainerDefinition = {
    id: 'c1',
    name: 'db',
    image: 'img:1',
    imageId: 'sha256:aaa',
    running: true,
    process: plain,
    networks: {},
    mounts: [],
    settings: { ports: [], restart: { name: 'no', maximumRetryCount: 0 }, tmpfs: [] },
    raw: {},
  };
  assert.throws(() => requireImageChange(def, 'sha256:aaa', 'img:1'), /image not changed/);
  assert.doesNotThrow(() => requireImageChange(def, 'sha256:bbb', 'img:2'));
});

test('image tags and versions', () => {
  assert.equal(imageTag('registry:5000/a/b:1.2.3'), '1.2.3');
  assert.equal(imageTag('registry:5000/a/b'), undefined);
  assert.equal(imageTag('a/b:1@sha256:00'), '1');
  assert.equal(versionOfImage('a:2.0.0'), '2.0.0');
  assert.equal(versionOfImage('a:2.0.0', { 'dev.molt.version': '2.0.0-3' }), '2.0.0-3');
});
