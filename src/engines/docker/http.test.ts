import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineError, EngineUnavailableError } from '../../core/errors.ts';
import { DockerHttpClient } from './http.ts';

/** A fake engine on a unix socket; each test installs its handler. */
let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void = () => {};
let server: http.Server;
let dir: string;
let socketPath: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'molt-http-test-'));
  socketPath = join(dir, 'engine.sock');
  server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('DockerHttpClient', () => {
  it('sends JSON to the versioned path with the query, and parses the JSON answer', async () => {
    let seen: { url?: string; method?: string; type?: string; body?: string } = {};
    handler = (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c;
      });
      req.on('end', () => {
        seen = { url: req.url, method: req.method, type: req.headers['content-type'], body };
        res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"Id":"abc"}');
      });
    };
    const client = new DockerHttpClient({ socketPath });
    const { status, value } = await client.json<{ Id: string }>('POST', '/containers/create', {
      query: { name: 'web', skip: undefined, all: true },
      json: { Image: 'x' },
    });
    assert.equal(status, 201);
    assert.deepEqual(value, { Id: 'abc' });
    assert.deepEqual(seen, {
      url: '/v1.41/containers/create?name=web&all=true',
      method: 'POST',
      type: 'application/json',
      body: '{"Image":"x"}',
    });
  });

  it("turns a non-2xx answer into EngineError with the engine's message and status", async () => {
    handler = (_req, res) =>
      res
        .writeHead(409, { 'Content-Type': 'application/json' })
        .end('{"cause":"in use","message":"volume v is being used","response":409}');
    const client = new DockerHttpClient({ socketPath });
    await assert.rejects(client.request('DELETE', '/volumes/v', { operation: 'remove volume v' }), (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.status, 409);
      assert.equal(e.message, 'remove volume v failed: volume v is being used (HTTP 409)');
      assert.equal(e.retryable, false);
      return true;
    });
  });

  it('returns accepted non-2xx statuses instead of throwing', async () => {
    handler = (_req, res) => res.writeHead(404).end('{"message":"no such image"}');
    const client = new DockerHttpClient({ socketPath });
    assert.equal((await client.request('GET', '/images/x/json', { accept: [404] })).status, 404);
  });

  it('maps a missing socket, a refused connection and a hang-up to EngineUnavailableError', async () => {
    await assert.rejects(
      new DockerHttpClient({ socketPath: join(dir, 'none.sock') }).request('GET', '/_ping'),
      (e: unknown) => {
        assert.ok(e instanceof EngineUnavailableError);
        assert.match(e.message, /none\.sock: no such socket/);
        return true;
      },
    );
    const notSocket = join(dir, 'plain-file');
    writeFileSync(notSocket, '');
    await assert.rejects(
      new DockerHttpClient({ socketPath: notSocket }).request('GET', '/_ping'),
      EngineUnavailableError,
    );
    handler = (req) => req.socket.destroy();
    await assert.rejects(new DockerHttpClient({ socketPath }).request('GET', '/_ping'), EngineUnavailableError);
  });

  it('gives up on an engine that stays silent longer than the idle timeout', async () => {
    handler = () => {};
    const started = Date.now();
    await assert.rejects(
      new DockerHttpClient({ socketPath, idleTimeoutMs: 200 }).request('GET', '/_ping'),
      /did not answer GET \/_ping within 0.2 s/,
    );
    assert.ok(Date.now() - started < 2_000);
  });

  it('fails with the abort reason, before and during the answer', async () => {
    const client = new DockerHttpClient({ socketPath });
    const reason = new Error('stop now');
    await assert.rejects(client.request('GET', '/x', { signal: AbortSignal.abort(reason) }), reason);
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('partial');
    };
    const controller = new AbortController();
    const stream = await client.stream('GET', '/x', { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(
      (async () => {
        for await (const _ of stream);
      })(),
      reason,
    );
  });

  it('streams a body that ends when the engine closes the connection (hijacked exec)', async () => {
    handler = (req, res) => {
      const socket = req.socket;
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n');
      socket.write('one,');
      setTimeout(() => socket.end('two'), 20);
      void res;
    };
    const stream = await new DockerHttpClient({ socketPath }).stream('POST', '/exec/1/start', {
      json: {},
      idleTimeoutMs: 0,
    });
    let text = '';
    for await (const chunk of stream) text += chunk;
    assert.equal(text, 'one,two');
  });

  it('reaches an engine over plain TCP, and names the endpoint when nothing listens there', async () => {
    const tcpServer = http.createServer((req, res) =>
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ url: req.url })),
    );
    await new Promise<void>((resolve) => tcpServer.listen(0, '127.0.0.1', resolve));
    const { port } = tcpServer.address() as { port: number };
    try {
      const client = new DockerHttpClient({ tcp: { host: '127.0.0.1', port } });
      assert.equal(client.socketPath, `tcp://127.0.0.1:${port}`);
      assert.deepEqual((await client.json('GET', '/info')).value, { url: '/v1.41/info' });
    } finally {
      tcpServer.closeAllConnections();
      await new Promise((resolve) => tcpServer.close(resolve));
    }
    await assert.rejects(
      new DockerHttpClient({ tcp: { host: '127.0.0.1', port } }).request('GET', '/_ping'),
      (e: unknown) => {
        assert.ok(e instanceof EngineUnavailableError);
        assert.match(e.message, new RegExp(`tcp://127\\.0\\.0\\.1:${port}: connection refused`));
        return true;
      },
    );
  });

  it('reads the error body of a stream request into EngineError', async () => {
    handler = (_req, res) => res.writeHead(404).end('{"message":"no such container"}');
    await assert.rejects(
      new DockerHttpClient({ socketPath }).stream('GET', '/containers/x/logs'),
      /no such container \(HTTP 404\)/,
    );
  });
});
