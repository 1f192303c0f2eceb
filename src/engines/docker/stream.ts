/**
 * Decoding of the Docker Engine API's multiplexed stream (exec and logs without a TTY).
 *
 * Each frame is an 8-byte header — stream type (0 stdin, 1 stdout, 2 stderr, 3 engine
 * error), three zero bytes, a big-endian uint32 payload size — followed by the payload.
 * Frames arrive split anywhere across chunks; the decoder hands payload on as soon as it
 * arrives (a large frame is not buffered whole) and never copies more than a header.
 */
import { StringDecoder } from 'node:string_decoder';

/** Where a piece of multiplexed output came from. Engine errors (type 3) count as stderr. */
export type OutputStream = 'stdout' | 'stderr';

const HEADER_SIZE = 8;

/** Incremental decoder of a multiplexed stream; feed it chunks with `push`, then `end`. */
export class MultiplexDecoder {
  readonly #onData: (stream: OutputStream, data: Buffer) => void;
  readonly #header = Buffer.alloc(HEADER_SIZE);
  #headerFill = 0;
  #remaining = 0;
  #stream: OutputStream = 'stdout';
  /** Set when the first bytes are not a frame header: the stream is raw (TTY) output. */
  #raw = false;
  #seenAny = false;

  constructor(onData: (stream: OutputStream, data: Buffer) => void) {
    this.#onData = onData;
  }

  /** Decodes one chunk; payload bytes are passed to the callback as they become available. */
  push(chunk: Buffer): void {
    let offset = 0;
    if (!this.#seenAny && chunk.length > 0) {
      this.#seenAny = true;
      this.#raw = !looksLikeHeaderStart(chunk);
    }
    if (this.#raw) {
      if (chunk.length > 0) this.#onData('stdout', chunk);
      return;
    }
    while (offset < chunk.length) {
      if (this.#remaining === 0) {
        const take = Math.min(HEADER_SIZE - this.#headerFill, chunk.length - offset);
        chunk.copy(this.#header, this.#headerFill, offset, offset + take);
        this.#headerFill += take;
        offset += take;
        if (this.#headerFill < HEADER_SIZE) return;
        this.#headerFill = 0;
        this.#stream = streamOf(this.#header);
        this.#remaining = this.#header.readUInt32BE(4);
        continue;
      }
      const take = Math.min(this.#remaining, chunk.length - offset);
      this.#onData(this.#stream, chunk.subarray(offset, offset + take));
      this.#remaining -= take;
      offset += take;
    }
  }

  /** Declares the input finished; throws when it stopped inside a frame. */
  end(): void {
    if (this.#headerFill !== 0 || this.#remaining !== 0) {
      const missing =
        this.#headerFill !== 0 ? `${HEADER_SIZE - this.#headerFill} header bytes` : `${this.#remaining} payload bytes`;
      throw new Error(`multiplexed stream ended inside a frame (${missing} missing)`);
    }
  }
}

function streamOf(header: Buffer): OutputStream {
  const type = header[0];
  if (type === 1 || type === 0) return 'stdout';
  if (type === 2 || type === 3) return 'stderr';
  throw new Error(`multiplexed stream: unknown stream type ${type}`);
}

/** True when a chunk can begin with a frame header (type 0–3 then zero bytes, as far as seen). */
function looksLikeHeaderStart(chunk: Buffer): boolean {
  const type = chunk[0] ?? 0;
  if (type > 3) return false;
  for (let i = 1; i < Math.min(4, chunk.length); i++) if (chunk[i] !== 0) return false;
  return true;
}

/** Text of one output stream, decoded as UTF-8 without splitting characters across chunks. */
export class TextCollector {
  readonly #decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  readonly #limit: number;
  #parts: Record<OutputStream, string[]> = { stdout: [], stderr: [] };
  #sizes: Record<OutputStream, number> = { stdout: 0, stderr: 0 };
  /** Output of both streams in arrival order (used for logs). */
  #interleaved: string[] = [];
  readonly #onText: ((stream: OutputStream, text: string) => void) | undefined;

  /** Keeps at most `limit` characters per stream (the newest); @default 16 MiB. */
  constructor(onText?: (stream: OutputStream, text: string) => void, limit = 16 * 1024 * 1024) {
    this.#onText = onText;
    this.#limit = limit;
  }

  /** Adds raw bytes of one stream. */
  add(stream: OutputStream, data: Buffer): void {
    this.#append(stream, this.#decoders[stream].write(data));
  }

  /** Flushes incomplete characters; call once at the end. */
  finish(): void {
    this.#append('stdout', this.#decoders.stdout.end());
    this.#append('stderr', this.#decoders.stderr.end());
  }

  /** Collected text of one stream. */
  text(stream: OutputStream): string {
    return this.#parts[stream].join('').slice(-this.#limit);
  }

  /** Collected text of both streams in arrival order. */
  interleaved(): string {
    return this.#interleaved.join('').slice(-this.#limit * 2);
  }

  #append(stream: OutputStream, text: string): void {
    if (text === '') return;
    this.#onText?.(stream, text);
    this.#parts[stream].push(text);
    this.#interleaved.push(text);
    this.#sizes[stream] += text.length;
    if (this.#sizes[stream] > this.#limit * 2) {
      const kept = this.text(stream);
      this.#parts[stream] = [kept];
      this.#sizes[stream] = kept.length;
      this.#interleaved = [this.interleaved()];
    }
  }
}

/** Reads a whole multiplexed stream (or an answer read whole), passing decoded payload to `onData`. */
export async function demultiplex(
  body: AsyncIterable<Buffer> | Iterable<Buffer>,
  onData: (stream: OutputStream, data: Buffer) => void,
): Promise<void> {
  const decoder = new MultiplexDecoder(onData);
  for await (const chunk of body) decoder.push(chunk);
  decoder.end();
}
