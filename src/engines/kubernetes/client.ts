/**
 * A thin Kubernetes API client: @kubernetes/client-node 2.x loads the configuration
 * (kubeconfig with contexts, or the in-cluster service account) and supplies TLS material and
 * credentials; requests themselves are plain JSON over node:https, so every call is visible
 * here and errors are mapped once: answers outside 2xx → KubeApiError (from the Status object),
 * no answer → KubeUnavailableError. Watches are streamed line by line (watch.ts), exec goes
 * through client-node's websocket Exec (exec.ts).
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError, KubeConfigError, KubeUnavailableError } from './errors.ts';

/** Where the configuration comes from. @default KUBECONFIG / ~/.kube/config, else in-cluster */
export interface KubeClientOptions {
  /** A kubeconfig file. */
  kubeconfig?: string;
  /** A context of that kubeconfig. @default its current-context */
  context?: string;
  /** Milliseconds a plain request may take. @default 30000 */
  timeoutMs?: number;
}

/** Query parameters; undefined values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** One API request. */
export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  /** @default application/json (PATCH: application/merge-patch+json) */
  contentType?: string;
  signal?: AbortSignal;
  /** What the call does, for error messages. @default "METHOD path" */
  operation?: string;
  /** @default the client's timeoutMs; 0 = none (watches) */
  timeoutMs?: number;
}

/** The Kubernetes API, authenticated. */
export class KubeClient {
  /** The configuration client-node loaded (also used for exec websockets). */
  readonly config: KubeConfig;
  /** The API server URL. */
  readonly server: string;
  /** The namespace of the current context (in-cluster: the pod's). @default "default" */
  readonly namespace: string;
  private readonly timeoutMs: number;

  constructor(config: KubeConfig, timeoutMs = 30_000) {
    this.config = config;
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new KubeConfigError('the current context names no cluster');
    this.server = cluster.server.replace(/\/+$/, '');
    this.namespace = config.getContextObject(config.getCurrentContext())?.namespace ?? 'default';
    this.timeoutMs = timeoutMs;
  }

  /** Loads the configuration: the given file and context, else the default rules of kubectl. */
  static load(opts: KubeClientOptions = {}): KubeClient {
    const config = new KubeConfig();
    try {
      if (opts.kubeconfig) config.loadFromFile(opts.kubeconfig);
      else config.loadFromDefault();
      if (opts.context) {
        if (!config.getContextObject(opts.context))
          throw new Error(`context "${opts.context}" is not in the kubeconfig`);
        config.setCurrentContext(opts.context);
      }
    } catch (e) {
      throw new KubeConfigError(e instanceof Error ? e.message : String(e), { cause: e });
    }
    // A plain http:// server (e.g. `kubectl proxy`) works with kubectl; client-node refuses it
    // unless TLS verification is off — which means nothing without TLS, so say so for it.
    config.clusters = config.clusters.map((c) => (c.server.startsWith('http:') ? { ...c, skipTLSVerify: true } : c));
    return new KubeClient(config, opts.timeoutMs);
  }

  /** Sends a request and returns the decoded JSON answer. */
  async request<T>(req: KubeRequest): Promise<T> {
    const res = await this.open(req);
    const body = await readAll(res, req.signal);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw apiError(req, status, body);
    return (body.length ? JSON.parse(body.toString('utf8')) : {}) as T;
  }

  /** Opens a request and returns the response stream (watches); fails with KubeApiError outside 2xx. */
  async stream(req: KubeRequest): Promise<IncomingMessage> {
    const res = await this.open({ ...req, timeoutMs: req.timeoutMs ?? 0 });
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw apiError(req, status, await readAll(res, req.signal));
    return res;
  }

  /** TLS material, agent and credentials, fresh per call (tokens of exec/oidc plugins rotate; the agent is cached). */
  private async httpsOptions(): Promise<https.RequestOptions> {
    const opts: https.RequestOptions = {};
    await this.config.applyToHTTPSOptions(opts);
    return opts;
  }

  private async open(req: KubeRequest): Promise<IncomingMessage> {
    const url = new URL(this.server + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const base = await this.httpsOptions();
    const payload =
      req.body === undefined
        ? undefined
        : Buffer.from(typeof req.body === 'string' ? req.body : JSON.stringify(req.body));
    const contentType =
      req.contentType ?? (req.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
    const headers: http.OutgoingHttpHeaders = {
      ...(base.headers as http.OutgoingHttpHeaders | undefined),
      accept: 'application/json',
      'user-agent': 'molt-operator',
    };
    if (payload) Object.assign(headers, { 'content-type': contentType, 'content-length': payload.length });
    const transport = url.protocol === 'http:' ? http : https;
    const timeout = req.timeoutMs ?? this.timeoutMs;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const r = transport.request(url, { ...base, method: req.method, headers, signal: req.signal }, resolve);
      if (timeout > 0) r.setTimeout(timeout, () => r.destroy(new Error(`no answer within ${timeout} ms`)));
      r.on('error', (e) =>
        reject(
          req.signal?.aborted
            ? req.signal.reason
            : new KubeUnavailableError(this.server, `${operationOf(req)}: ${e.message}`, { cause: e }),
        ),
      );
      r.end(payload);
    });
  }
}

function operationOf(req: KubeRequest): string {
  return req.operation ?? `${req.method} ${req.path}`;
}

function apiError(req: KubeRequest, status: number, body: Buffer): KubeApiError {
  let reason = '';
  let message = body.toString('utf8').slice(0, 2000) || `HTTP ${status}`;
  try {
    const s = JSON.parse(body.toString('utf8')) as { reason?: string; message?: string };
    reason = s.reason ?? '';
    message = s.message ?? message;
  } catch {
    // not a Status object: keep the raw text
  }
  return new KubeApiError(operationOf(req), status, reason, message);
}

function readAll(res: IncomingMessage, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', (e) => reject(signal?.aborted ? signal.reason : e));
  });
}
