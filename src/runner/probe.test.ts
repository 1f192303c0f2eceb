/**
 * One probe attempt over the network, against real listeners on 127.0.0.1: HTTP (which loads
 * node:http only for itself) and TCP. Exec probes go through the engine (test/e2e).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server } from 'node:net';
import type { ContainerEngine } from '../engines/types.ts';
import { probeOnce } from './probe.ts';

const noEngine = {} as ContainerEngine;
const timing = { periodSeconds: 1, failureThreshold: 3, timeoutSeconds: 2 };

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

test('an HTTP probe passes on 2xx and 3xx and fails on other statuses, naming the status', async (t) => {
  const server = createHttpServer((req, res) => {
    res.statusCode = req.url === '/ready' ? 200 : req.url === '/moved' ? 302 : 503;
    res.end('body is discarded');
  });
  const port = await listening(server);
  t.after(() => server.close());
  const attempt = (path: string) =>
    probeOnce(noEngine, 'c', '127.0.0.1', { http: { port, path }, ...timing }, new AbortController().signal);
  assert.deepEqual(await attempt('/ready'), { ok: true, detail: 'GET /ready → HTTP 200' });
  assert.deepEqual(await attempt('/moved'), { ok: true, detail: 'GET /moved → HTTP 302' });
  assert.deepEqual(await attempt('/starting'), { ok: false, detail: 'GET /starting → HTTP 503' });
});

test('an HTTP or TCP probe of a port nobody listens on fails with the reason', async () => {
  const closed = createTcpServer();
  const port = await listening(closed);
  await new Promise((resolve) => closed.close(resolve));
  const signal = new AbortController().signal;
  const http = await probeOnce(noEngine, 'c', '127.0.0.1', { http: { port, path: '/' }, ...timing }, signal);
  assert.equal(http.ok, false);
  assert.match(http.detail, /ECONNREFUSED/);
  const tcp = await probeOnce(noEngine, 'c', '127.0.0.1', { tcp: { port }, ...timing }, signal);
  assert.equal(tcp.ok, false);
  assert.match(tcp.detail, new RegExp(`tcp 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
});

test('a TCP probe passes once the port accepts a connection', async (t) => {
  const server = createTcpServer((socket) => socket.end());
  const port = await listening(server);
  t.after(() => server.close());
  assert.deepEqual(
    await probeOnce(noEngine, 'c', '127.0.0.1', { tcp: { port }, ...timing }, new AbortController().signal),
    { ok: true, detail: `tcp 127.0.0.1:${port} accepted` },
  );
});

test('an HTTP probe that does not answer in timeoutSeconds fails; an aborted wait throws its reason', async (t) => {
  const silent = createTcpServer(() => {}); // accepts, never answers
  const port = await listening(silent);
  t.after(() => silent.close());
  const slow = await probeOnce(
    noEngine,
    'c',
    '127.0.0.1',
    { http: { port, path: '/' }, ...timing, timeoutSeconds: 0.2 },
    new AbortController().signal,
  );
  assert.equal(slow.ok, false);
  const stop = new AbortController();
  setTimeout(() => stop.abort(new Error('interrupted')), 50);
  await assert.rejects(
    probeOnce(noEngine, 'c', '127.0.0.1', { http: { port, path: '/' }, ...timing }, stop.signal),
    /interrupted/,
  );
});
