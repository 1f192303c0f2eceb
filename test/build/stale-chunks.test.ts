import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { CHUNK_GRACE_MS, staleChunks } from '../../scripts/stale-chunks.ts';

it('stale chunks: those of no current build and older than the grace period, nothing else', () => {
  const dir = mkdtempSync(join(tmpdir(), 'molt-chunks-'));
  try {
    const now = Date.now();
    const write = (name: string, ageMs: number) => {
      writeFileSync(join(dir, name), '');
      const t = (now - ageMs) / 1000;
      utimesSync(join(dir, name), t, t);
    };
    write('chunk-OLD.mjs', CHUNK_GRACE_MS + 60_000);
    write('chunk-RECENT.mjs', 60_000);
    write('chunk-CURRENT.mjs', CHUNK_GRACE_MS * 3);
    assert.deepEqual(staleChunks(dir, new Set(['chunk-CURRENT.mjs']), now), ['chunk-OLD.mjs']);
    assert.deepEqual(staleChunks(join(dir, 'absent'), new Set(), now), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
