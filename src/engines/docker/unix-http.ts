/**
 * One HTTP/1.1 exchange over a unix socket whose answer is read whole: what most engine calls
 * are (ping, inspect, list, create, start, stop…), on node:net alone. The first request a
 * process makes through node:http costs about 0.7× a whole `node -e 0` (loading and compiling
 * its client, agent, outgoing message and parser machinery: ~60 M instructions by valgrind's
 * count, against ~28 M for this), and `molt get apps` makes two requests. Streams, hijacked
 * connections (exec, attach), streamed uploads and TCP/TLS engines stay on node:http (http.ts).
 *
 * Like http.ts (agent: false), every exchange has its own connection (`Connection: close`).
 * The answer ends with its Content-Length, its last chunk (chunked encoding), or, with
 * neither, the connection's end.
 */
import { connect } from 'node:net';

/** A buffered answer: status, headers (lower-case names) and body. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** One request and how its failures are reported (http.ts maps them to its errors). */
export interface Exchange {
  socketPath: string;
  method: string;
  /** The request target: path and query, already encoded. */
  target: string;
  /** Request headers (Host included); Connection and Content-Length are added here. */
  headers: Record<string, string>;
  body?: Buffer;
  /** Milliseconds without traffic before giving up; 0 = wait for ever. */
  idleTimeoutMs: number;
  signal?: AbortSignal | undefined;
  /** The error for a socket-level failure (connect refused, reset…). */
  socketError: (error: Error) => unknown;
  /** The error for an engine that went silent for idleTimeoutMs. */
  timeoutError: () => unknown;
  /** The error for an answer that ended early or is not HTTP. */
  brokenAnswer: (what: string) => unknown;
}

const EMPTY = Buffer.alloc(0);
const MAX_HEAD_BYTES = 64 * 1024;

/** Sends one request and resolves with the whole answer, whatever its status. */
export function exchange(x: Exchange): Promise<RawAnswer> {
  if (x.signal?.aborted) return Promise.reject(x.signal.reason);
  return new Promise((resolve, reject) => {
    const parser = new AnswerParser(x.method);
    const socket = connect(x.socketPath);
    let settled = false;
    const finish = (error?: { reason: unknown }): void => {
      if (settled) return;
      settled = true;
      x.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error.reason);
      else resolve({ status: parser.status, headers: parser.headers, body: parser.body() });
    };
    const onAbort = (): void => finish({ reason: x.signal?.reason });
    x.signal?.addEventListener('abort', onAbort, { once: true });
    if (x.idleTimeoutMs > 0) socket.setTimeout(x.idleTimeoutMs, () => finish({ reason: x.timeoutError() }));
    socket.on('error', (error) => finish({ reason: x.socketError(error) }));
    socket.on('data', (data: Buffer) => {
      try {
        parser.push(data);
        if (parser.complete) finish();
      } catch (error) {
        finish({ reason: x.brokenAnswer((error as Error).message) });
      }
    });
    socket.on('end', () => {
      try {
        parser.end();
        finish();
      } catch (error) {
        finish({ reason: x.brokenAnswer((error as Error).message) });
      }
    });
    // A close without an end or an error (a reset the kernel reported quietly).
    socket.on('close', () => finish({ reason: x.brokenAnswer('the engine closed the connection before answering') }));
    // write, not end: a half-closed connection reads to some servers (Node's, Go's) as a client
    // that left, and they drop the request.
    socket.write(requestBytes(x));
  });
}

/** The request's head and body as bytes. */
export function requestBytes(x: Pick<Exchange, 'method' | 'target' | 'headers' | 'body'>): Buffer {
  const headers: Record<string, string> = { ...x.headers, Connection: 'close' };
  if (x.body !== undefined) headers['Content-Length'] = String(x.body.length);
  else if (x.method !== 'GET' && x.method !== 'HEAD' && x.method !== 'DELETE') headers['Content-Length'] = '0';
  let head = `${x.method} ${x.target} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new Error(`internal: header ${name} holds a line break`);
    head += `${name}: ${value}\r\n`;
  }
  const bytes = Buffer.from(`${head}\r\n`, 'latin1');
  return x.body === undefined ? bytes : Buffer.concat([bytes, x.body]);
}

type Framing = 'none' | 'length' | 'chunked' | 'eof';
type ChunkState = 'size' | 'data' | 'crlf' | 'trailer';

/** Parses one HTTP/1.1 answer fed in pieces as they arrive; throws on what is not HTTP. */
export class AnswerParser {
  status = 0;
  headers: Record<string, string> = {};
  complete = false;
  readonly #method: string;
  #inHead = true;
  #pending: Buffer = EMPTY;
  #body: Buffer[] = [];
  #framing: Framing = 'none';
  #left = 0;
  #chunk: ChunkState = 'size';

  constructor(method: string) {
    this.#method = method;
  }

  /** Takes the next bytes of the answer. */
  push(data: Buffer): void {
    this.#pending = this.#pending.length === 0 ? data : Buffer.concat([this.#pending, data]);
    while (!this.complete && this.#step());
  }

  /** The connection ended: the answer must be complete (or run to the end by design). */
  end(): void {
    if (this.complete) return;
    if (!this.#inHead && this.#framing === 'eof') {
      this.complete = true;
      return;
    }
    throw new Error(
      this.#inHead
        ? 'the engine closed the connection before answering'
        : 'the engine closed the connection in the middle of its answer',
    );
  }

  /** The body received. */
  body(): Buffer {
    return this.#body.length === 1 ? (this.#body[0] as Buffer) : Buffer.concat(this.#body);
  }

  /** One parsing step; false when it needs more bytes. */
  #step(): boolean {
    if (this.#inHead) return this.#head();
    if (this.#framing === 'length') return this.#take(this.#left, () => (this.complete = true));
    if (this.#framing === 'chunked') return this.#chunked();
    this.#body.push(this.#pending); // eof: everything until the connection ends
    this.#pending = EMPTY;
    return false;
  }

  #head(): boolean {
    const end = this.#pending.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.#pending.length > MAX_HEAD_BYTES) throw new Error('the answer has no end of headers');
      return false;
    }
    const [statusLine = '', ...lines] = this.#pending.toString('latin1', 0, end).split('\r\n');
    this.#pending = this.#pending.subarray(end + 4);
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!status) throw new Error(`the answer is not HTTP/1.1: ${JSON.stringify(statusLine.slice(0, 80))}`);
    this.status = Number(status[1]);
    if (this.status >= 100 && this.status < 200) return true; // an interim answer: the real one follows
    this.headers = parseHeaders(lines);
    this.#inHead = false;
    this.#framing = this.#framingOf();
    if (this.#framing === 'none' || (this.#framing === 'length' && this.#left === 0)) this.complete = true;
    return true;
  }

  #framingOf(): Framing {
    if (this.#method === 'HEAD' || this.status === 204 || this.status === 304) return 'none';
    if (/\bchunked\b/i.test(this.headers['transfer-encoding'] ?? '')) return 'chunked';
    const length = this.headers['content-length'];
    if (length === undefined) return 'eof';
    if (!/^\d+$/.test(length.trim())) throw new Error(`the answer's Content-Length is ${JSON.stringify(length)}`);
    this.#left = Number(length);
    return 'length';
  }

  #chunked(): boolean {
    if (this.#chunk === 'data') return this.#take(this.#left, () => (this.#chunk = 'crlf'));
    const eol = this.#pending.indexOf('\r\n');
    if (eol < 0) return false;
    const line = this.#pending.toString('latin1', 0, eol);
    this.#pending = this.#pending.subarray(eol + 2);
    if (this.#chunk === 'crlf') {
      if (line !== '') throw new Error('a chunk of the answer is longer than its size says');
      this.#chunk = 'size';
    } else if (this.#chunk === 'trailer') {
      if (line === '') this.complete = true;
    } else {
      const size = /^[0-9a-fA-F]+/.exec(line.trim());
      if (!size) throw new Error(`the answer's chunk size is ${JSON.stringify(line.slice(0, 40))}`);
      this.#left = Number.parseInt(size[0], 16);
      this.#chunk = this.#left === 0 ? 'trailer' : 'data';
    }
    return true;
  }

  /** Moves up to `wanted` pending bytes into the body; calls `done` when all of them came. */
  #take(wanted: number, done: () => void): boolean {
    if (this.#pending.length === 0) return false;
    const n = Math.min(wanted, this.#pending.length);
    this.#body.push(this.#pending.subarray(0, n));
    this.#pending = this.#pending.subarray(n);
    this.#left = wanted - n;
    if (this.#left === 0) done();
    return this.#left === 0;
  }
}

function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`the answer has a malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return headers;
}
