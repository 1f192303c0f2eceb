/**
 * The operator's HTTP endpoints, as controller-runtime serves them: /healthz (the process
 * answers), /readyz (its checks pass: the API server answers and, once leading, the caches
 * are synced) and /metrics (Prometheus text). Plain node:http, no framework.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OperatorMetrics } from './metrics.ts';

/** A named check; resolves with an error text, or undefined when healthy. */
export type Check = () => Promise<string | undefined> | string | undefined;

/** What the server serves. */
export interface HealthOptions {
  /** host:port. @default ":8081" */
  address?: string;
  readyChecks: Record<string, Check>;
  metrics: OperatorMetrics;
}

/** Starts the server; resolves with it (and its bound port). */
export async function startHealthServer(opts: HealthOptions): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    void handle(req.url ?? '/', opts).then(
      ({ status, body, type }) => {
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      },
      (e: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(e));
      },
    );
  });
  const [host, port] = splitAddress(opts.address ?? ':8081');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return { server, port: (server.address() as AddressInfo).port };
}

async function handle(url: string, opts: HealthOptions): Promise<{ status: number; body: string; type: string }> {
  const path = url.split('?')[0];
  if (path === '/healthz' || path === '/livez') return { status: 200, body: 'ok', type: 'text/plain' };
  if (path === '/metrics') return { status: 200, body: await opts.metrics.text(), type: opts.metrics.contentType };
  if (path === '/readyz') {
    const lines: string[] = [];
    let ok = true;
    for (const [name, check] of Object.entries(opts.readyChecks)) {
      const problem = await check();
      if (problem) ok = false;
      lines.push(problem ? `[-]${name} failed: ${problem}` : `[+]${name} ok`);
    }
    lines.push(ok ? 'readyz check passed' : 'readyz check failed');
    return { status: ok ? 200 : 503, body: lines.join('\n') + '\n', type: 'text/plain' };
  }
  return { status: 404, body: 'not found', type: 'text/plain' };
}

function splitAddress(address: string): [string | undefined, number] {
  const i = address.lastIndexOf(':');
  const host = i > 0 ? address.slice(0, i) : undefined;
  return [host, Number(address.slice(i + 1))];
}
