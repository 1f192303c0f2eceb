import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseArgv, chooseMounts, macForIPv4, newContainerSpec, replacedMounts } from './container-spec.ts';
import { appManifest, containerObservation } from '../testing/fixtures.ts';

// Seed 002: CMD1 old container, CMD2 old image, CMD3 upgrade request (manifest), CMD4 new image.
test('CMD3: the command given in the manifest wins over everything', () => {
  assert.deepEqual(chooseArgv(['new', 'cmd'], { container: ['custom'], image: ['default'], manifest: ['custom'] }), [
    'new',
    'cmd',
  ]);
});

test('CMD1: the old container command is kept when it was customised', () => {
  assert.deepEqual(chooseArgv(undefined, { container: ['custom'], image: ['default'], manifest: undefined }), [
    'custom',
  ]);
});

test('CMD4: the new image default applies when the old command was the old image default', () => {
  assert.equal(chooseArgv(undefined, { container: ['default'], image: ['default'], manifest: undefined }), undefined);
});

test('CMD2 is never chosen: an install without an old container uses the new image default', () => {
  assert.equal(chooseArgv(undefined, undefined), undefined);
});

test('when the old image is gone, the old manifest tells whether the command was customised', () => {
  assert.deepEqual(chooseArgv(undefined, { container: ['x'], image: undefined, manifest: ['x'] }), ['x']);
  assert.equal(chooseArgv(undefined, { container: ['x'], image: undefined, manifest: undefined }), undefined);
});

test('the new container inherits every old mount and adds the manifest volumes', () => {
  const old = {
    container: containerObservation({
      mounts: [
        { type: 'volume', source: 'notes-data', destination: '/data', readOnly: false },
        { type: 'volume', source: 'abc123anon', destination: '/cache', readOnly: false },
        { type: 'bind', source: '/srv/conf', destination: '/etc/notes', readOnly: true },
      ],
    }),
    image: undefined,
    manifest: undefined,
  };
  const manifest = appManifest({
    volumes: [
      { name: 'notes-data', mountPath: '/data' },
      { name: 'logs', mountPath: '/logs' },
    ],
  });
  const mounts = chooseMounts(manifest, old);
  assert.deepEqual(mounts.map((m) => `${m.type}:${m.source}:${m.destination}:${m.readOnly}`).sort(), [
    'bind:/srv/conf:/etc/notes:true',
    'volume:abc123anon:/cache:false',
    'volume:logs:/logs:false',
    'volume:notes-data:/data:false',
  ]);
  assert.deepEqual(replacedMounts(manifest, old), []);
});

test('a manifest volume at the same path as a different old volume replaces it and is reported', () => {
  const old = { container: containerObservation(), image: undefined, manifest: undefined };
  const manifest = appManifest({ volumes: [{ name: 'other', mountPath: '/data' }] });
  assert.deepEqual(
    chooseMounts(manifest, old).map((m) => m.source),
    ['other'],
  );
  assert.equal(replacedMounts(manifest, old)[0]?.source, 'notes-data');
});

test('the new container spec keeps the IP given and labels the operation', () => {
  const spec = newContainerSpec(
    appManifest({ version: '1.2.3-5', image: 'localhost/notes:1.2.3-5' }),
    undefined,
    '10.90.0.10',
    '42',
  );
  assert.equal(spec.name, 'notes');
  assert.deepEqual(spec.network, { name: 'molt', ipv4: '10.90.0.10', mac: '02:42:0a:5a:00:0a' });
  assert.equal(spec.labels['dev.molt.version'], '1.2.3-5');
  assert.equal(spec.labels['dev.molt.upgrade-id'], '42');
  assert.equal(spec.cmd, undefined);
});

test('the MAC address follows the IP, so it is kept when the IP is', () => {
  assert.equal(macForIPv4('10.90.0.10'), '02:42:0a:5a:00:0a');
  assert.equal(macForIPv4('192.168.255.1'), '02:42:c0:a8:ff:01');
});
