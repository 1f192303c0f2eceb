import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkSpec, ensureRootfs, imageCacheDir, rootfsKey, withFileLock } from './debian-rootfs.ts';
import { baseTag, containerfile, EXAMPLE_IMAGES, EXAMPLE_SETS, SUITE_PACKAGES } from './databases.ts';

test('the cache key ignores package order and duplicates, and changes with suite, packages and mirror', () => {
  const key = rootfsKey({ suite: 'bookworm', packages: ['postgresql-15', 'redis-server'] });
  assert.match(key, /^[0-9a-f]{16}$/);
  assert.equal(rootfsKey({ suite: 'bookworm', packages: ['redis-server', 'postgresql-15', 'redis-server'] }), key);
  assert.notEqual(rootfsKey({ suite: 'trixie', packages: ['postgresql-15', 'redis-server'] }), key);
  assert.notEqual(rootfsKey({ suite: 'bookworm', packages: ['postgresql-15'] }), key);
  assert.notEqual(
    rootfsKey({
      suite: 'bookworm',
      packages: ['postgresql-15', 'redis-server'],
      mirror: 'http://mirror.example/debian',
    }),
    key,
  );
});

test('suite and package names that debootstrap would read as options or paths are refused', () => {
  assert.throws(() => checkSpec({ suite: '--foreign', packages: ['redis-server'] }), /invalid Debian suite name/);
  assert.throws(() => checkSpec({ suite: 'bookworm', packages: ['../etc'] }), /invalid Debian package name/);
  assert.throws(() => checkSpec({ suite: 'bookworm', packages: ['a,b'] }), /invalid Debian package name/);
  assert.throws(() => checkSpec({ suite: 'bookworm', packages: [] }), /no packages/);
  assert.doesNotThrow(() => checkSpec({ suite: 'bookworm', packages: ['postgresql-15', 'libstdc++6'] }));
});

test('the cache lives in MOLT_IMAGE_CACHE, else under XDG_CACHE_HOME or ~/.cache', () => {
  assert.equal(imageCacheDir({ MOLT_IMAGE_CACHE: '/srv/cache' }), '/srv/cache');
  assert.equal(imageCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/molt-images');
  assert.match(imageCacheDir({}), /\/\.cache\/molt-images$/);
});

test('a cached rootfs is returned as it is, without building', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'molt-rootfs-test-'));
  try {
    const spec = { suite: 'bookworm', packages: ['redis-server'] };
    const base = join(dir, `bookworm-${rootfsKey(spec)}`);
    writeFileSync(`${base}.tar`, 'x'.repeat(1234));
    writeFileSync(`${base}.json`, JSON.stringify({ versions: { 'redis-server': '5:7.0.15-1' }, buildSeconds: 99.5 }));
    const found = await ensureRootfs(spec, { cacheDir: dir });
    assert.deepEqual(found, {
      suite: 'bookworm',
      key: rootfsKey(spec),
      tar: `${base}.tar`,
      bytes: 1234,
      versions: { 'redis-server': '5:7.0.15-1' },
      buildSeconds: 99.5,
      cached: true,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('withFileLock serialises holders, tells a waiter it waits, and is free again when a holder process dies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'molt-lock-test-'));
  try {
    const file = join(dir, 'x.lock');
    const events: string[] = [];
    let waited = 0;
    const first = withFileLock(
      file,
      () => {},
      async () => {
        events.push('first in');
        await new Promise((r) => setTimeout(r, 1_300));
        events.push('first out');
      },
    );
    await new Promise((r) => setTimeout(r, 100));
    const second = withFileLock(
      file,
      () => {
        waited++;
      },
      async () => {
        events.push('second in');
      },
    );
    await Promise.all([first, second]);
    assert.deepEqual(events, ['first in', 'first out', 'second in']);
    assert.equal(waited, 1);

    // A process holding the lock is killed: the kernel releases it (--close: only flock holds it).
    const holder = spawn('flock', ['--exclusive', '--close', file, 'cat'], { stdio: ['pipe', 'ignore', 'ignore'] });
    await new Promise((r) => setTimeout(r, 200));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.on('exit', r));
    const got = await Promise.race([
      withFileLock(
        file,
        () => {},
        async () => 'got it',
      ),
      new Promise((r) => setTimeout(() => r('timed out'), 5_000)),
    ]);
    assert.equal(got, 'got it');
    holder.stdin.end(); // ends the orphaned cat
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every example image names files that exist, and only the new versions declare upgrade scripts', () => {
  const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
  for (const [name, image] of Object.entries(EXAMPLE_IMAGES)) {
    for (const src of Object.values(image.files)) {
      assert.ok(existsSync(join(examples, src)), `${name}: examples/${src} exists`);
      if (src.endsWith('.sh')) assert.ok(statSync(join(examples, src)).mode & 0o100, `examples/${src} is executable`);
    }
    const scripts = image.labels['dev.molt.pre-upgrade'] !== undefined;
    assert.equal(scripts, name === 'postgres:17' || name === 'valkey:8.1', `${name} upgrade scripts`);
    if (scripts) {
      for (const label of ['dev.molt.pre-upgrade', 'dev.molt.post-upgrade', 'dev.molt.upgrade-notification']) {
        assert.ok(
          Object.keys(image.files).includes(image.labels[label as keyof typeof image.labels]!),
          `${name}: ${label} points at a file of the image`,
        );
      }
    }
    assert.ok(SUITE_PACKAGES[image.suite].length > 0);
  }
  assert.deepEqual(Object.values(EXAMPLE_SETS).flat().sort(), Object.keys(EXAMPLE_IMAGES).sort());
});

test("an example image is its suite's base plus its files, env, labels, stop signal and command", () => {
  const rootfs = {
    suite: 'trixie',
    key: '0123456789abcdef',
    tar: '/c/t.tar',
    bytes: 1,
    versions: { 'postgresql-17': '17.12-0+deb13u1', 'valkey-server': '8.1.1' },
    buildSeconds: 1,
    cached: true,
  };
  const text = containerfile(EXAMPLE_IMAGES['postgres:17'], baseTag(rootfs), rootfs);
  assert.equal(text.split('\n')[0], 'FROM localhost/molt-example/debian:trixie-0123456789abcdef');
  assert.match(text, /^COPY f2 \/opt\/postgres\/pre-upgrade\.sh$/m);
  assert.match(text, /^ENV PG_MAJOR="17"$/m);
  assert.match(text, /^ENV PATH="\/usr\/lib\/postgresql\/17\/bin:/m);
  assert.match(text, /^LABEL "dev\.molt\.post-upgrade"="\/opt\/postgres\/post-upgrade\.sh"$/m);
  assert.match(
    text,
    /^LABEL "dev\.molt\.example\.debian"="trixie postgresql-17=17\.12-0\+deb13u1 valkey-server=8\.1\.1"$/m,
  );
  assert.match(text, /^STOPSIGNAL SIGINT\nCMD \["\/opt\/postgres\/start\.sh"\]\n$/m);
});
