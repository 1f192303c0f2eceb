import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnswerParser, exchange, requestBytes, type Exchange } from './unix-http.ts';

/** Feeds `text` to a parser in pieces of `size` bytes, then ends the connection if asked. */
function parse(text: string, size: number, method = 'GET', end = true): AnswerParser {
  const parser = new AnswerParser(method);
  const bytes = Buffer.from(text, 'latin1');
  for (let i = 0; i < bytes.length && !parser.complete; i += size) parser.push(bytes.subarray(i, i + size));
  if (end) parser.end();
  return parser;
}

const CHUNKED =
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n' +
  '5;ext=1\r\n[{"a"\r\nb\r\n:1},{"b":2}\r\n1\r\n]\r\n0\r\nX-Trailer: t\r\n\r\n';

describe('AnswerParser', () => {
  const cases: { name: string; text: string; method?: string; status: number; body: string; end?: boolean }[] = [
    {
      name: 'Content-Length',
      text: 'HTTP/1.1 201 Created\r\nContent-Length: 11\r\n\r\n{"Id":"ab"}',
      status: 201,
      body: '{"Id":"ab"}',
    },
    { name: 'chunked, with an extension and a trailer', text: CHUNKED, status: 200, body: '[{"a":1},{"b":2}]' },
    { name: '204 has no body', text: 'HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n', status: 204, body: '' },
    { name: '304 has no body', text: 'HTTP/1.1 304 Not Modified\r\n\r\n', status: 304, body: '' },
    {
      name: 'HEAD has no body',
      text: 'HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n',
      method: 'HEAD',
      status: 200,
      body: '',
    },
    { name: 'Content-Length 0', text: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', status: 200, body: '' },
    { name: 'no framing: to the end', text: 'HTTP/1.0 200 OK\r\n\r\nOK then', status: 200, body: 'OK then' },
    {
      name: 'an interim 100 Continue before the answer',
      text: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi',
      status: 200,
      body: 'hi',
    },
  ];
  for (const c of cases) {
    it(`${c.name}, whole and split at every byte`, () => {
      for (const size of [c.text.length, 1, 2, 3, 7]) {
        const parser = parse(c.text, size, c.method);
        assert.equal(parser.complete, true, `complete (pieces of ${size})`);
        assert.equal(parser.status, c.status);
        assert.equal(parser.body().toString('latin1'), c.body, `body (pieces of ${size})`);
      }
    });
  }

  it('is complete as soon as the framing says so, before the connection ends', () => {
    assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi', 1, 'GET', false).complete, true);
    assert.equal(parse(CHUNKED, 4, 'GET', false).complete, true);
    assert.equal(parse('HTTP/1.1 200 OK\r\n\r\nstill', 4, 'GET', false).complete, false);
  });

  it('gives lower-case header names, joining repeated ones', () => {
    const p = parse('HTTP/1.1 200 OK\r\nAPI-Version: 1.41\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n', 5);
    assert.deepEqual(p.headers, { 'api-version': '1.41', 'x-a': '1, 2', 'content-length': '0' });
  });

  const broken: { name: string; text: string; error: RegExp }[] = [
    { name: 'not HTTP', text: 'SSH-2.0-OpenSSH\r\n\r\n', error: /not HTTP\/1\.1/ },
    { name: 'a malformed header', text: 'HTTP/1.1 200 OK\r\nnocolon\r\n\r\n', error: /malformed header line/ },
    { name: 'a bad Content-Length', text: 'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n', error: /Content-Length/ },
    {
      name: 'a bad chunk size',
      text: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      error: /chunk size/,
    },
    {
      name: 'a chunk longer than its size',
      text: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n',
      error: /longer than its size/,
    },
    { name: 'an end before the answer', text: 'HTTP/1.1 200 OK\r\nContent-', error: /before answering/ },
    {
      name: 'an end within the body',
      text: 'HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc',
      error: /middle of its answer/,
    },
    {
      name: 'an end before the last chunk',
      text: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n',
      error: /middle of its answer/,
    },
  ];
  for (const c of broken) it(`refuses ${c.name}`, () => assert.throws(() => parse(c.text, 3), c.error));
});

describe('requestBytes', () => {
  it('closes the connection after the answer and sizes the body', () => {
    const text = requestBytes({
      method: 'POST',
      target: '/v1.41/containers/create?name=web',
      headers: { Host: 'docker', 'Content-Type': 'application/json' },
      body: Buffer.from('{"a":1}'),
    }).toString('latin1');
    assert.equal(
      text,
      'POST /v1.41/containers/create?name=web HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n' +
        'Connection: close\r\nContent-Length: 7\r\n\r\n{"a":1}',
    );
  });

  it('sends Content-Length 0 for a POST without a body, none for a GET', () => {
    const post = requestBytes({ method: 'POST', target: '/x/start', headers: { Host: 'docker' } }).toString();
    const get = requestBytes({ method: 'GET', target: '/x/json', headers: { Host: 'docker' } }).toString();
    assert.match(post, /\r\nContent-Length: 0\r\n\r\n$/);
    assert.doesNotMatch(get, /Content-Length/);
  });

  it('refuses a header value with a line break (no header injection)', () => {
    assert.throws(
      () => requestBytes({ method: 'GET', target: '/', headers: { 'X-Registry-Auth': 'a\r\nEvil: 1' } }),
      /line break/,
    );
  });
});

describe('exchange over a real unix socket', () => {
  let dir: string;
  let server: Server;
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  const socketPath = () => join(dir, 'engine.sock');
  const base = (over: Partial<Exchange> = {}): Exchange => ({
    socketPath: socketPath(),
    method: 'GET',
    target: '/v1.41/_ping',
    headers: { Host: 'docker' },
    idleTimeoutMs: 5_000,
    socketError: (e) => new Error(`socket: ${e.message}`),
    timeoutError: () => new Error('silent'),
    brokenAnswer: (what) => new Error(`broken: ${what}`),
    ...over,
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'molt-unix-http-'));
    server = createHttpServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(socketPath(), resolve));
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the body and reads a chunked answer written in pieces', async () => {
    handler = (req, res) => {
      const got: Buffer[] = [];
      req.on('data', (d: Buffer) => got.push(d));
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const items = Array.from({ length: 2000 }, (_, i) => ({ i, echo: Buffer.concat(got).toString() }));
        const text = JSON.stringify(items);
        for (let at = 0; at < text.length; at += 4096) res.write(text.slice(at, at + 4096));
        res.end();
      });
    };
    const answer = await exchange(base({ method: 'POST', target: '/v1.41/x', body: Buffer.from('{"k":"v"}') }));
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/json');
    const items = JSON.parse(answer.body.toString()) as { i: number; echo: string }[];
    assert.equal(items.length, 2000);
    assert.equal(items[1999]?.echo, '{"k":"v"}');
  });

  it('maps a missing socket, a silent engine, an engine that hangs up and an abort', async () => {
    await assert.rejects(exchange(base({ socketPath: join(dir, 'none.sock') })), /^Error: socket: .*ENOENT/);
    handler = () => {};
    await assert.rejects(exchange(base({ idleTimeoutMs: 100 })), /^Error: silent$/);
    handler = (req) => req.socket.destroy();
    await assert.rejects(exchange(base()), /^Error: (broken: the engine closed the connection|socket: )/);
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('partial');
    };
    const controller = new AbortController();
    const reason = new Error('stop now');
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(exchange(base({ signal: controller.signal })), reason);
    await assert.rejects(exchange(base({ signal: AbortSignal.abort(reason) })), reason);
  });

  it('reads an answer that ends with the connection (no framing)', async () => {
    const raw = createNetServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.0 200 OK\r\nX-Raw: 1\r\n\r\nuntil the end'));
    });
    const path = join(dir, 'raw.sock');
    await new Promise<void>((resolve) => raw.listen(path, resolve));
    try {
      const answer = await exchange(base({ socketPath: path }));
      assert.equal(answer.body.toString(), 'until the end');
      assert.equal(answer.headers['x-raw'], '1');
    } finally {
      raw.close();
    }
  });
});
