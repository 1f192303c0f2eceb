/**
 * A thin client for the Docker Engine API (v1.41) over a unix socket, or over TCP with or
 * without TLS (mutual TLS as Docker's `--tlsverify` expects), built on node:http/https.
 *
 * Every request opens its own connection (no keep-alive): exec and attach hijack the
 * connection, and unix sockets are cheap. A request over a unix socket whose answer is read
 * whole goes through unix-http.ts (node:net), the rest through node:http, which loads only then.
 * Failures are mapped once, here:
 * - the socket cannot be reached, the engine hangs up or stays silent → EngineUnavailableError;
 * - the engine answers outside 2xx (and outside the statuses a call accepts) → EngineError
 *   carrying the engine's own `message`;
 * - the caller's AbortSignal fires → the promise (or stream) fails with `signal.reason`.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { EngineError, EngineUnavailableError } from '../../core/errors.ts';
import { exchange, type RawAnswer } from './unix-http.ts';

/** Query parameters; undefined values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** Options of one request. */
export interface RequestOptions {
  query?: Query;
  /** A value sent as JSON. */
  json?: unknown;
  /** A raw body (e.g. a tar archive); sent with `contentType`. */
  body?: Readable | Buffer;
  /** @default "application/x-tar" when `body` is set */
  contentType?: string;
  signal?: AbortSignal | undefined;
  /** Milliseconds without any traffic before the engine counts as gone; 0 = wait for ever. @default the client's */
  idleTimeoutMs?: number;
  /** Statuses outside 2xx that are answers, not errors (e.g. 404 for "inspect", 304 for "start"). */
  accept?: number[];
  /** What the call does, for error messages, e.g. "inspect container web". @default "METHOD path" */
  operation?: string;
  /** Send to Podman's own API (`/v4.0.0/libpod/…`) instead of the Docker-compatible one. */
  libpod?: boolean;
  /** Extra request headers (e.g. X-Registry-Auth). */
  headers?: Record<string, string>;
}

/** The version prefix of Podman's own API calls (served by Podman 4 and later). */
const LIBPOD_PREFIX = '/v4.0.0/libpod';

/** A buffered answer. */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A request's headers and body, made once from its options. */
interface Prepared {
  headers: Record<string, string>;
  payload: Buffer | Readable | undefined;
}

/** TLS material of a TCP endpoint, as PEM text. */
export interface TlsMaterial {
  /** The CA that signed the server's certificate. @default the system's CAs */
  ca?: string | Buffer;
  /** A client certificate and its key, for engines that require one. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The name the server's certificate must carry. @default the host */
  servername?: string;
}

/** An engine listening on TCP; with `tls` the connection is TLS and the server is verified. */
export interface TcpEndpoint {
  host: string;
  port: number;
  tls?: TlsMaterial;
}

/** How to reach the engine: a unix socket, or a TCP endpoint. */
export interface DockerHttpOptions {
  /** The unix socket's path. With `tcp`, the name shown in messages. @default tcp://host:port */
  socketPath?: string;
  tcp?: TcpEndpoint;
  /** @default "v1.41" */
  apiVersion?: string;
  /** Idle timeout of ordinary calls in milliseconds. @default 30000 */
  idleTimeoutMs?: number;
}

const CONNECTION_CODES = new Set([
  'ENOENT',
  'ECONNREFUSED',
  'EACCES',
  'EPERM',
  'ENOTSOCK',
  'ECONNRESET',
  'EPIPE',
  'ENOTDIR',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTDOWN',
]);
/** Error codes of failed TLS handshakes and certificate checks (OpenSSL's and Node's). */
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** A client for one engine socket or TCP endpoint. */
export class DockerHttpClient {
  /** The unix socket's path, or the endpoint's name (tcp://host:port) for a TCP engine. */
  readonly socketPath: string;
  readonly tcp: TcpEndpoint | undefined;
  readonly apiVersion: string;
  readonly idleTimeoutMs: number;

  constructor(options: DockerHttpOptions) {
    if (options.socketPath === undefined && options.tcp === undefined)
      throw new Error('internal: DockerHttpClient needs a socketPath or a tcp endpoint');
    this.tcp = options.tcp;
    this.socketPath = options.socketPath ?? `tcp://${options.tcp?.host}:${options.tcp?.port}`;
    this.apiVersion = options.apiVersion ?? 'v1.41';
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  }

  /** Sends a request and buffers the answer; non-accepted statuses throw EngineError. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    const prepared = this.#prepare(options);
    let answer: RawAnswer | Answer;
    if (this.tcp === undefined && (prepared.payload === undefined || Buffer.isBuffer(prepared.payload))) {
      answer = await this.#exchange(method, path, options, prepared.headers, prepared.payload);
    } else {
      const res = await this.#send(method, path, options, prepared);
      answer = { status: res.statusCode ?? 0, headers: res.headers, body: await readBody(res, this, options) };
    }
    if (!isAccepted(answer.status, options.accept))
      throw engineError(method, path, options, answer.status, answer.body);
    return answer;
  }

  /** One request over the unix socket with node:net (unix-http.ts), its errors mapped as open() maps them. */
  #exchange(
    method: string,
    path: string,
    options: RequestOptions,
    headers: Record<string, string>,
    body: Buffer | undefined,
  ): Promise<RawAnswer> {
    const idleTimeoutMs = options.idleTimeoutMs ?? this.idleTimeoutMs;
    return exchange({
      socketPath: this.socketPath,
      method,
      target: this.#target(path, options),
      headers,
      body,
      idleTimeoutMs,
      signal: options.signal,
      socketError: (error) => connectionError(this.socketPath, error),
      timeoutError: () => this.#silent(method, path, options, idleTimeoutMs),
      brokenAnswer: (what) =>
        new EngineUnavailableError(`${this.socketPath}: ${what} (${operationOf(method, path, options)})`),
    });
  }

  #silent(method: string, path: string, options: RequestOptions, idleMs: number): EngineUnavailableError {
    return new EngineUnavailableError(
      `${this.socketPath} did not answer ${operationOf(method, path, options)} within ${idleMs / 1000} s`,
    );
  }

  #target(path: string, options: RequestOptions): string {
    return `${options.libpod ? LIBPOD_PREFIX : `/${this.apiVersion}`}${path}${queryString(options.query)}`;
  }

  /** The request's headers and body. */
  #prepare(options: RequestOptions): Prepared {
    // Over TCP the Host header is the endpoint: node verifies the server certificate against it.
    const headers: Record<string, string> = { Host: this.tcp ? hostHeader(this.tcp) : 'docker', ...options.headers };
    let payload: Buffer | Readable | undefined;
    if (options.json !== undefined) {
      payload = Buffer.from(JSON.stringify(options.json));
      headers['Content-Type'] = 'application/json';
    } else if (options.body !== undefined) {
      payload = options.body;
      headers['Content-Type'] = options.contentType ?? 'application/x-tar';
    }
    return { headers, payload };
  }

  /** Like `request`, parsing a JSON answer (undefined for an empty body). */
  async json<T>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<{ status: number; value: T | undefined }> {
    const { status, body } = await this.request(method, path, options);
    if (body.length === 0) return { status, value: undefined };
    try {
      return { status, value: JSON.parse(body.toString('utf8')) as T };
    } catch (error) {
      throw new EngineError(
        operationOf(method, path, options),
        status,
        `answer is not JSON: ${body.toString('utf8', 0, 200)}`,
      );
    }
  }

  /**
   * Sends a request and returns the answer's body as a stream once the headers are in.
   * A non-accepted status throws EngineError (after reading the error body). A connection
   * lost while the stream flows makes the stream fail with EngineUnavailableError.
   */
  async stream(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const res = await this.open(method, path, options);
    const status = res.statusCode ?? 0;
    if (!isAccepted(status, options.accept)) {
      const body = await readBody(res, this, options);
      throw engineError(method, path, options, status, body);
    }
    return res;
  }

  /** Sends a request; resolves with the raw response when its headers arrive, whatever the status. */
  open(method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    return this.#send(method, path, options, this.#prepare(options));
  }

  /** open() with the headers and body already made. */
  #send(
    method: string,
    path: string,
    options: RequestOptions,
    { headers, payload }: Prepared,
  ): Promise<IncomingMessage> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const idle = options.idleTimeoutMs ?? this.idleTimeoutMs;
    if (Buffer.isBuffer(payload)) headers['Content-Length'] = String(payload.length);
    return new Promise((resolve, reject) => {
      const where = this.tcp
        ? { host: this.tcp.host, port: this.tcp.port, ...this.tcp.tls }
        : // servername '': nothing to verify on a unix socket, and Node's agent would otherwise test
          // the Host header with isIP(), whose first call compiles the IPv6 regex (~5 ms of CPU).
          { socketPath: this.socketPath, servername: '' };
      // node:http and node:https (TLS, ~15 ms of CPU and 8 MiB) load on first use.
      const req = process.getBuiltinModule(this.tcp?.tls ? 'node:https' : 'node:http').request({
        ...where,
        method,
        path: this.#target(path, options),
        headers,
        agent: false,
      });
      let settled = false;
      let response: IncomingMessage | undefined;
      const fail = (error: unknown): void => {
        if (!settled) {
          settled = true;
          reject(error);
        } else {
          response?.destroy(error as Error);
        }
        req.destroy();
      };
      const onAbort = (): void => fail(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal?.removeEventListener('abort', onAbort));
      if (idle > 0) req.setTimeout(idle, () => fail(this.#silent(method, path, options, idle)));
      req.on('error', (error) => fail(connectionError(this.socketPath, error)));
      req.on('response', (res) => {
        settled = true;
        response = res;
        resolve(res);
      });
      if (payload === undefined) req.end();
      else if (Buffer.isBuffer(payload)) req.end(payload);
      else {
        payload.on('error', (error) => fail(error));
        payload.pipe(req);
      }
    });
  }
}

/** Reads a response to the end, mapping a broken connection to EngineUnavailableError. */
async function readBody(res: IncomingMessage, client: DockerHttpClient, options: RequestOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res) chunks.push(chunk as Buffer);
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw connectionError(client.socketPath, error);
  }
  return Buffer.concat(chunks);
}

/** Maps a socket-level (or TLS) failure to EngineUnavailableError; anything else is returned as is. */
export function connectionError(socketPath: string, error: unknown): unknown {
  if (error instanceof EngineUnavailableError || error instanceof EngineError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = (error as Error | undefined)?.message ?? String(error);
  if (code !== undefined && TLS_CODE.test(code)) {
    return new EngineUnavailableError(
      `${socketPath}: TLS failed (${code}): ${message}; check the endpoint's tls ca, cert and key`,
      { cause: error },
    );
  }
  if ((code !== undefined && CONNECTION_CODES.has(code)) || /socket hang up|aborted/i.test(message)) {
    return new EngineUnavailableError(`${socketPath}: ${describeCode(code, message)}`, { cause: error });
  }
  return error;
}

function describeCode(code: string | undefined, message: string): string {
  switch (code) {
    case 'ENOENT':
      return 'no such socket';
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens on the socket)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTSOCK':
      return 'not a socket';
    default:
      return code ? `${code}: ${message}` : message;
  }
}

function hostHeader(tcp: TcpEndpoint): string {
  return `${tcp.host.includes(':') ? `[${tcp.host}]` : tcp.host}:${tcp.port}`;
}

function isAccepted(status: number, accept: number[] | undefined): boolean {
  return (status >= 200 && status < 300) || (accept?.includes(status) ?? false);
}

function operationOf(method: string, path: string, options: RequestOptions): string {
  return options.operation ?? `${method} ${path}`;
}

function engineError(method: string, path: string, options: RequestOptions, status: number, body: Buffer): EngineError {
  return new EngineError(operationOf(method, path, options), status, engineMessage(body));
}

/** The engine's own explanation from an error body (`{"message": …}`), else the text. */
export function engineMessage(body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string' && parsed.message !== '') return parsed.message;
  } catch {
    // not JSON: use the text
  }
  return text === '' ? 'no details given' : text.slice(0, 2000);
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Encodes Docker's `filters` query parameter. */
export function filters(map: Record<string, string[]>): string {
  return JSON.stringify(map);
}
