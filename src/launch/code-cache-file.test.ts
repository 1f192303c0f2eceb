import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as cacheFile from './code-cache-file.ts';

describe('code cache file', () => {
  const cache = new Map([
    ['chunks/molt-ABC.cjs', Buffer.from([1, 2, 3])],
    ['chunks/chunk-DEF.cjs', Buffer.from([])],
    ['chunks/apply-GHI.cjs', Buffer.from('cached data')],
  ]);

  it('reads back what it wrote, in order', () => {
    const back = cacheFile.decodeCodeCache(cacheFile.encodeCodeCache(cache));
    assert.deepEqual([...back.keys()], [...cache.keys()]);
    for (const [file, data] of cache) assert.deepEqual(Buffer.from(back.get(file)!), data, file);
  });

  it('reads a file cut short, padded, empty or of another layout as no cache at all', () => {
    const bytes = cacheFile.encodeCodeCache(cache);
    assert.equal(cacheFile.decodeCodeCache(bytes.subarray(0, bytes.length - 1)).size, 0);
    assert.equal(cacheFile.decodeCodeCache(Buffer.concat([bytes, Buffer.from([0])])).size, 0);
    assert.equal(cacheFile.decodeCodeCache(Buffer.alloc(0)).size, 0);
    assert.equal(cacheFile.decodeCodeCache(Buffer.from('not a cache at all')).size, 0);
    const head = Buffer.alloc(4);
    const index = Buffer.from(JSON.stringify([['a', -1]]));
    head.writeUInt32LE(index.length);
    assert.equal(cacheFile.decodeCodeCache(Buffer.concat([head, index])).size, 0);
  });

  it('is named after the build and the command, options and odd words sharing one name', () => {
    assert.equal(cacheFile.codeCacheFileName('b1', ['apply', '-f', 'x.yaml']), 'b1-apply.bin');
    assert.equal(cacheFile.codeCacheFileName('b1', ['--home', '/h', 'get', 'apps']), 'b1-other.bin');
    assert.equal(cacheFile.codeCacheFileName('b1', ['-o', 'json', 'get']), 'b1-json.bin');
    assert.equal(cacheFile.codeCacheFileName('b1', ['--version']), 'b1-other.bin');
    assert.equal(cacheFile.codeCacheFileName('b1', ['../../etc/passwd']), 'b1-other.bin');
    assert.equal(cacheFile.codeCacheFileName('b1', ['Apply']), 'b1-other.bin');
  });

  it('is trusted only when the user owns it and nobody else can write it (V8 runs it as code)', () => {
    assert.equal(cacheFile.trustedCacheFile({ uid: 1000, mode: 0o100600 }, 1000), true);
    assert.equal(cacheFile.trustedCacheFile({ uid: 1000, mode: 0o100644 }, 1000), true);
    assert.equal(cacheFile.trustedCacheFile({ uid: 0, mode: 0o100600 }, 1000), false, "another user's file");
    assert.equal(cacheFile.trustedCacheFile({ uid: 1000, mode: 0o100664 }, 1000), false, 'group-writable');
    assert.equal(cacheFile.trustedCacheFile({ uid: 1000, mode: 0o100606 }, 1000), false, 'world-writable');
    assert.equal(cacheFile.trustedCacheFile({ uid: 5, mode: 0o100600 }, undefined), true, 'no uids on this platform');
  });

  it("finds the other builds' files, temporary ones included", () => {
    assert.deepEqual(
      cacheFile.otherBuildsFiles(['b1-apply.bin', 'b0-apply.bin', 'b0-get.bin.77.tmp', 'b1-get.bin.5.tmp'], 'b1'),
      ['b0-apply.bin', 'b0-get.bin.77.tmp'],
    );
  });
});
