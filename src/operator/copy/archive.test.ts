import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractTree, packTree } from './archive.ts';

const asRoot = process.getuid?.() === 0;

/** Every entry under `root`: type, mode, owner, mtime (s), content or link target, inode sharing. */
function describe(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p);
    const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f';
    let what = '';
    if (kind === 'l') what = readlinkSync(p);
    else if (kind === 'f') {
      what = readFileSync(p, 'utf8');
      const first = inodes.get(st.ino);
      if (first) what += ` (same file as ${first})`;
      else inodes.set(st.ino, rel);
    }
    const mode = kind === 'l' ? '' : (st.mode & 0o7777).toString(8);
    out[rel || '.'] = `${kind} ${mode} ${st.uid}:${st.gid} ${Math.floor(st.mtimeMs / 1000)} ${what}`;
    if (kind === 'd') for (const c of readdirSync(p).sort()) walk(rel ? `${rel}/${c}` : c);
  };
  walk('');
  return out;
}

function fixture(root: string): void {
  mkdirSync(join(root, 'db/empty'), { recursive: true });
  writeFileSync(join(root, 'db/table'), 'rows\n'.repeat(1000));
  writeFileSync(join(root, 'db/empty-file'), '');
  writeFileSync(join(root, 'secret'), 'only me');
  chmodSync(join(root, 'secret'), 0o600);
  writeFileSync(join(root, 'tool'), '#!/bin/sh\n');
  chmodSync(join(root, 'tool'), 0o4755);
  chmodSync(join(root, 'db'), 0o2750);
  symlinkSync('db/table', join(root, 'current'));
  symlinkSync('/nowhere', join(root, 'dangling'));
  linkSync(join(root, 'db/table'), join(root, 'table-link'));
  if (asRoot) {
    chownSync(join(root, 'secret'), 1234, 5678);
    chownSync(join(root, 'db'), 999, 999);
    chownSync(join(root, 'db/table'), 999, 999);
    chmodSync(join(root, 'tool'), 0o4755); // chown cleared setuid
  }
  const t = new Date('2020-01-02T03:04:05Z');
  for (const p of ['db/table', 'db/empty-file', 'secret', 'tool', 'db/empty', 'db', '.'])
    utimesSync(join(root, p), t, t);
  lutimesSync(join(root, 'current'), t, t);
}

/** Runs `fn` with a source tree (the fixture) and an empty destination in a temporary dir. */
async function withTrees(fn: (dir: string, src: string, dst: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'molt-archive-'));
  try {
    const src = join(dir, 'src');
    const dst = join(dir, 'dst');
    mkdirSync(src);
    mkdirSync(dst);
    fixture(src);
    await fn(dir, src, dst);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a tree packed and extracted comes back exactly: contents, modes, owners, times, links, empty dirs', () =>
  withTrees(async (dir, src, dst) => {
    const packed = await packTree(src, join(dir, 'v.tar'));
    assert.deepEqual(packed.notKept, []);
    assert.equal(packed.bytes, 2 * 0 + 5000 + 7 + 10);
    // What the volume held before is removed; the mount point itself stays.
    writeFileSync(join(dst, 'garbage'), 'from a half-done migration');
    mkdirSync(join(dst, 'newdir'));
    const back = await extractTree(join(dir, 'v.tar'), dst);
    if (asRoot) assert.deepEqual(back.notKept, [], 'as root every owner is kept');
    assert.deepEqual(describe(dst), describe(src));
    assert.match(describe(dst)['table-link'] ?? '', /same file as db\/table/, 'the hard link is one file again');
  }));

test('extracting again (a restore repeated after a crash) gives the same tree', () =>
  withTrees(async (dir, src, dst) => {
    await packTree(src, join(dir, 'v.tar'));
    await extractTree(join(dir, 'v.tar'), dst);
    writeFileSync(join(dst, 'db/table'), 'half');
    await extractTree(join(dir, 'v.tar'), dst);
    assert.deepEqual(describe(dst), describe(src));
  }));

test('an archive entry that points outside the volume is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'molt-archive-'));
  try {
    const tar = (await import('tar-stream')).default;
    const pack = tar.pack();
    pack.entry({ name: '../escape', type: 'file' }, 'x');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    writeFileSync(join(dir, 'evil.tar'), Buffer.concat(chunks));
    mkdirSync(join(dir, 'dst'));
    await assert.rejects(extractTree(join(dir, 'evil.tar'), join(dir, 'dst')), /points outside the volume/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
