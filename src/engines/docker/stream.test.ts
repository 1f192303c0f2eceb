import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { demultiplex, MultiplexDecoder, TextCollector } from './stream.ts';
import type { OutputStream } from './stream.ts';

function frame(type: number, payload: string | Buffer): Buffer {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

/** Decodes `input` fed in pieces cut at `cuts`, returning the bytes per stream. */
function decodeInPieces(input: Buffer, cuts: number[]): Record<OutputStream, string> {
  const out: Record<OutputStream, Buffer[]> = { stdout: [], stderr: [] };
  const decoder = new MultiplexDecoder((stream, data) => out[stream].push(Buffer.from(data)));
  let start = 0;
  for (const cut of [...cuts, input.length]) {
    decoder.push(input.subarray(start, cut));
    start = cut;
  }
  decoder.end();
  return { stdout: Buffer.concat(out.stdout).toString(), stderr: Buffer.concat(out.stderr).toString() };
}

describe('MultiplexDecoder', () => {
  const input = Buffer.concat([
    frame(1, 'hello '),
    frame(2, 'oops\n'),
    frame(1, 'world\n'),
    frame(1, ''),
    frame(2, 'bye'),
  ]);

  it('separates stdout and stderr when every frame arrives whole', () => {
    assert.deepEqual(decodeInPieces(input, []), { stdout: 'hello world\n', stderr: 'oops\nbye' });
  });

  it('gives the same result for a cut at every position', () => {
    for (let cut = 1; cut < input.length; cut++) {
      assert.deepEqual(decodeInPieces(input, [cut]), { stdout: 'hello world\n', stderr: 'oops\nbye' }, `cut at ${cut}`);
    }
  });

  it('gives the same result when fed one byte at a time', () => {
    const cuts = Array.from({ length: input.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(decodeInPieces(input, cuts), { stdout: 'hello world\n', stderr: 'oops\nbye' });
  });

  it('hands on a large frame in pieces as they arrive, without waiting for its end', () => {
    const big = Buffer.alloc(200_000, 'x');
    const seen: number[] = [];
    const decoder = new MultiplexDecoder((_stream, data) => seen.push(data.length));
    const encoded = frame(1, big);
    decoder.push(encoded.subarray(0, 65_536));
    assert.deepEqual(seen, [65_536 - 8]);
    decoder.push(encoded.subarray(65_536));
    decoder.end();
    assert.equal(
      seen.reduce((a, b) => a + b, 0),
      200_000,
    );
  });

  it('counts engine error frames (type 3) as stderr', () => {
    assert.deepEqual(decodeInPieces(frame(3, 'engine says no'), []), { stdout: '', stderr: 'engine says no' });
  });

  it('reports a stream that ends inside a header or a payload', () => {
    const cutHeader = new MultiplexDecoder(() => {});
    cutHeader.push(frame(1, 'abc').subarray(0, 5));
    assert.throws(() => cutHeader.end(), /3 header bytes missing/);
    const cutPayload = new MultiplexDecoder(() => {});
    cutPayload.push(frame(1, 'abcdef').subarray(0, 10));
    assert.throws(() => cutPayload.end(), /4 payload bytes missing/);
  });

  it('passes a raw (TTY) stream through as stdout', () => {
    assert.deepEqual(decodeInPieces(Buffer.from('plain text\n'), [3]), { stdout: 'plain text\n', stderr: '' });
  });

  it('rejects an unknown stream type after the first frame', () => {
    const decoder = new MultiplexDecoder(() => {});
    decoder.push(frame(1, 'ok'));
    assert.throws(() => decoder.push(frame(7, 'bad')), /unknown stream type 7/);
  });
});

describe('TextCollector', () => {
  it('does not break a UTF-8 character split across frames', () => {
    const euro = Buffer.from('€'); // 3 bytes
    const seen: string[] = [];
    const collector = new TextCollector((_stream, text) => seen.push(text));
    collector.add('stdout', euro.subarray(0, 1));
    collector.add('stdout', euro.subarray(1));
    collector.finish();
    assert.equal(collector.text('stdout'), '€');
    assert.deepEqual(seen, ['€']);
  });

  it('keeps stdout and stderr apart and their arrival order in the interleaved text', () => {
    const collector = new TextCollector();
    collector.add('stdout', Buffer.from('a'));
    collector.add('stderr', Buffer.from('b'));
    collector.add('stdout', Buffer.from('c'));
    collector.finish();
    assert.equal(collector.text('stdout'), 'ac');
    assert.equal(collector.text('stderr'), 'b');
    assert.equal(collector.interleaved(), 'abc');
  });

  it('keeps only the newest text beyond its limit', () => {
    const collector = new TextCollector(undefined, 10);
    for (let i = 0; i < 10; i++) collector.add('stdout', Buffer.from(`${i}abcdefghi`));
    collector.finish();
    assert.equal(collector.text('stdout'), '9abcdefghi');
  });
});

describe('demultiplex', () => {
  it('reads a stream whose chunks cut frames anywhere', async () => {
    const input = Buffer.concat([frame(1, 'x'.repeat(70_000)), frame(2, 'err')]);
    const pieces = [
      input.subarray(0, 3),
      input.subarray(3, 9),
      input.subarray(9, 40_000),
      input.subarray(40_000, 70_010),
      input.subarray(70_010),
    ];
    const collector = new TextCollector();
    await demultiplex(Readable.from(pieces), (stream, data) => collector.add(stream, data));
    collector.finish();
    assert.equal(collector.text('stdout').length, 70_000);
    assert.equal(collector.text('stderr'), 'err');
  });
});
