import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { KubeUnavailableError } from '../engines/kubernetes/index.ts';
import { connect } from './kube-connect.ts';
import { CrdsNotInstalledError } from './kube-errors.ts';

function kubeconfig(dir: string, server: string): string {
  const file = join(dir, 'config');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: ctx, context: {cluster: c, user: u, namespace: shop}}]
current-context: ctx
`,
  );
  return file;
}

test('an API server without the molt.dev group: CrdsNotInstalled, naming the fix', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'molt-kube-connect-'));
  // A real HTTP exchange with an API server that serves no molt.dev group (answers like kube-apiserver: 404 Status).
  const server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'NotFound',
        message: 'the server could not find the requested resource',
        code: 404,
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const port = (server.address() as AddressInfo).port;
  await assert.rejects(connect({ kubeconfig: kubeconfig(dir, `http://127.0.0.1:${port}`) }), (e: unknown) => {
    assert.ok(e instanceof CrdsNotInstalledError);
    assert.match(e.message, /molt's CRDs are not installed on this cluster/);
    assert.match(e.hint, /kubectl apply -k deploy\//);
    return true;
  });
});

test('an API server that does not answer: KubeUnavailable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'molt-kube-connect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  await assert.rejects(connect({ kubeconfig: kubeconfig(dir, `http://127.0.0.1:${port}`) }), KubeUnavailableError);
});
