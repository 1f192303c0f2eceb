import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appManifest } from '../../testing/fixtures.ts';
import { installedRecord, podDigest, ranKey, resolveUpgrade } from './digests.ts';
import { digestOfImageID, type AppWorld } from './world.ts';
import { imageDigest } from '../../runner/image-digest.ts';

const d = (c: string) => `sha256:${c.repeat(64)}`;

test('digestOfImageID: a repo digest is pinnable, an image ID is not, anything else is nothing', () => {
  assert.deepEqual(digestOfImageID(`10.244.0.1:5443/shop/notes@${d('a')}`), { digest: d('a'), pinnable: true });
  assert.deepEqual(digestOfImageID(`docker-pullable://r.example/x@${d('b')}`), { digest: d('b'), pinnable: true });
  assert.deepEqual(digestOfImageID(d('c')), { digest: d('c'), pinnable: false });
  assert.equal(digestOfImageID('notes:1'), undefined);
  assert.equal(digestOfImageID(undefined), undefined);
});

test('installedRecord keeps the digests that ran per version (the last 20), the newest last', () => {
  const v1 = appManifest({ version: '1.0.0', image: 'r.example/n:1' }).spec;
  const v2 = appManifest({ version: '2.0.0', image: 'r.example/n:2' }).spec;
  let rec = installedRecord(v1, d('1'), undefined);
  rec = installedRecord(v2, d('2'), rec);
  assert.equal(rec.digest, d('2'));
  assert.deepEqual(rec.ran, { [ranKey(v1)]: d('1'), [ranKey(v2)]: d('2') });
  for (let i = 0; i < 30; i++) rec = installedRecord({ ...v2, version: `3.0.${i}` }, d(String(i % 10)), rec);
  assert.equal(Object.keys(rec.ran ?? {}).length, 20);
  assert.equal(installedRecord(v1, undefined, undefined).digest, undefined, 'no digest known: none recorded');
});

test('podDigest reads the first member that reports an imageID', () => {
  const w = {
    members: [
      { name: 'n-1', ordinal: 1 },
      { name: 'n-0', ordinal: 0, pod: { imageID: `r.example/n@${d('e')}` } },
    ],
  } as unknown as AppWorld;
  assert.deepEqual(podDigest(w), { digest: d('e'), pinnable: true });
});

test("locally: the RepoDigest of the reference's repository, else the image ID", () => {
  const img = {
    id: 'f'.repeat(64),
    cmd: undefined,
    entrypoint: undefined,
    labels: {},
    volumes: [],
    repoDigests: [`other.example/x@${d('1')}`, `127.0.0.1:5443/e2e/app@${d('2')}`],
  };
  assert.deepEqual(imageDigest('127.0.0.1:5443/e2e/app:1.0.0', img), {
    digest: d('2'),
    ref: `127.0.0.1:5443/e2e/app@${d('2')}`,
  });
  assert.deepEqual(imageDigest('localhost/app:1', { ...img, repoDigests: [] }), {
    digest: d('f'),
    ref: 'f'.repeat(64),
  });
  assert.deepEqual(imageDigest(`r.example/app@${d('3')}`, img), { digest: d('3'), ref: `r.example/app@${d('3')}` });
});

test('BeginUpgrade of a `molt rollback` journals no scripts (the older version wrote them for upgrading to it); an upgrade journals them', async () => {
  const scripted = appManifest({
    upgrade: { ...appManifest().spec.upgrade, preUpgrade: '/pre.sh', postUpgrade: '/post.sh' },
  }).spec;
  const installed = installedRecord(appManifest({ version: '2.0.0' }).spec, undefined, undefined);
  const noApi = {} as Parameters<typeof resolveUpgrade>[0];
  const forward = await resolveUpgrade(noApi, 'ns', installed, scripted, false);
  assert.ok('journal' in forward);
  assert.deepEqual(forward.journal.scripts, { preUpgrade: '/pre.sh', postUpgrade: '/post.sh' });
  const back = await resolveUpgrade(noApi, 'ns', installed, scripted, true);
  assert.ok('journal' in back);
  assert.deepEqual(back.journal.scripts, {});
  assert.match(back.note ?? '', /no scripts \(not run when going back\)/);
});
