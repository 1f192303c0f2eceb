/**
 * The operator process: serves /healthz, /readyz and /metrics from the start, campaigns for
 * the Lease, and once leading starts the informers (Apps; the StatefulSets and pods molt made,
 * mapped back to their App) and the App controller's workers. Losing the lease ends the
 * process (a fresh start is the only safe way to drop half-done work); SIGTERM stops the
 * workers, releases the lease and exits 0, so a successor takes over at once.
 */
import { hostname } from 'node:os';
import type { KubeObject } from '../engines/kubernetes/index.ts';
import { EventRecorder, KubeClient, ResourceApi, RESOURCES } from '../engines/kubernetes/index.ts';
import { reconcileApp } from './app/reconciler.ts';
import { CONTROLLER, FIELD_MANAGER, LABELS } from './app/names.ts';
import { Controller } from './runtime/controller.ts';
import { taskController } from './task/index.ts';
import { workerImageResolver } from './task/reconciler.ts';
import { startHealthServer } from './runtime/health.ts';
import { Informer, keyOf } from './runtime/informer.ts';
import { LeaderElector, type LeaderTiming } from './runtime/leader.ts';
import { instanceSelector, leaseFor } from './runtime/instance.ts';
import { OperatorMetrics } from './runtime/metrics.ts';

/** How the operator runs. */
export interface OperatorOptions {
  kubeconfig?: string;
  context?: string;
  /** Namespace of the leader-election Lease. @default POD_NAMESPACE, else "molt-system" */
  leaseNamespace?: string;
  /** Name of the Lease. @default "molt-operator" */
  leaseName?: string;
  /** This instance's identity in the Lease. @default the host name (the pod name) */
  identity?: string;
  /** host:port of /healthz, /readyz, /metrics. @default ":8081" */
  healthAddress?: string;
  /** App keys reconciled at the same time. @default 4 */
  workers?: number;
  /** Milliseconds between full re-lists of every watched resource. @default 30000 */
  resyncMs?: number;
  timing?: LeaderTiming;
  /** Reconcile only objects labelled for this instance, with its own Lease (runtime/instance.ts). @default none: only unlabelled objects */
  instance?: string;
}

/** Writes one JSON log line to stderr with fixed keys (ts, level, msg, app, step, …). */
export function logLine(fields: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), level: 'info', ...fields })}\n`);
}

/** The parts of a running operator. */
interface Parts {
  client: KubeClient;
  controller: Controller;
  /** The UpgradeTask controller (runs tasks as Jobs). */
  tasks: Controller;
  informers: Informer<KubeObject>[];
  elector: LeaderElector;
  metrics: OperatorMetrics;
}

/** Builds the client, controller, informers and elector (nothing runs yet). */
function assemble(opts: OperatorOptions): Parts {
  const client = KubeClient.load({
    ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context ? { context: opts.context } : {}),
  });
  const api = new ResourceApi(client, FIELD_MANAGER);
  const identity = opts.identity ?? process.env['POD_NAME'] ?? hostname();
  const metrics = new OperatorMetrics();
  const events = new EventRecorder(api, CONTROLLER, identity);
  const workerImage = workerImageResolver(api);
  const controller = new Controller({
    name: 'app',
    workers: opts.workers ?? 4,
    metrics,
    log: logLine,
    reconcile: (key, signal) =>
      reconcileApp(
        { api, client, events, log: logLine, workerImage, ...(opts.instance ? { instance: opts.instance } : {}) },
        key,
        signal,
      ),
  });
  const enqueueOwner = (_: string, obj: KubeObject) => {
    const app = obj.metadata.labels?.[LABELS.app];
    // Only Apps this instance watches: pods and StatefulSets of every instance's Apps come through here.
    if (app && obj.metadata.namespace && informers[0]?.get(`${obj.metadata.namespace}/${app}`))
      controller.queue.add(`${obj.metadata.namespace}/${app}`);
  };
  const resyncMs = opts.resyncMs ?? 30_000;
  const onError = (e: unknown) =>
    logLine({ level: 'error', msg: 'watch failed; retrying', error: e instanceof Error ? e.message : String(e) });
  const informers = [
    new Informer<KubeObject>(api, RESOURCES.apps, (_, obj) => controller.queue.add(keyOf(obj)), {
      labelSelector: instanceSelector(opts.instance),
      resyncMs,
      onError,
    }),
    new Informer<KubeObject>(api, RESOURCES.statefulsets, enqueueOwner, {
      labelSelector: LABELS.app,
      resyncMs,
      onError,
    }),
    new Informer<KubeObject>(api, RESOURCES.pods, enqueueOwner, { labelSelector: LABELS.app, resyncMs, onError }),
  ];
  // A Release changed (e.g. upgradable set on the installed one, or the target published
  // after the App named it): the Apps that name it or run it.
  const apps = informers[0] as Informer<KubeObject>;
  const enqueueUsers = (_: string, rel: KubeObject) => {
    for (const a of apps.list() as (KubeObject & { spec?: { release?: unknown }; status?: { release?: unknown } })[]) {
      if (a.spec?.release === rel.metadata.name || a.status?.release === rel.metadata.name)
        controller.queue.add(keyOf(a));
    }
  };
  informers.push(new Informer<KubeObject>(api, RESOURCES.releases, enqueueUsers, { resyncMs, onError }));
  const tasks = taskController({
    api,
    metrics,
    identity,
    log: logLine,
    resyncMs,
    onError,
    labelSelector: instanceSelector(opts.instance),
  });
  informers.push(...tasks.informers);
  const elector = new LeaderElector(api, {
    namespace: opts.leaseNamespace ?? process.env['POD_NAMESPACE'] ?? 'molt-system',
    name: opts.leaseName ?? leaseFor(opts.instance),
    identity,
    ...(opts.timing ? { timing: opts.timing } : {}),
    log: (msg) => logLine({ msg, identity }),
  });
  return { client, controller, tasks: tasks.controller, informers, elector, metrics };
}

/** Runs the operator until SIGTERM/SIGINT; resolves with the exit code. */
export async function runOperator(opts: OperatorOptions = {}): Promise<number> {
  const { client, controller, tasks, informers, elector, metrics } = assemble(opts);
  let apiOk = false;
  const probeApi = () =>
    client.request({ method: 'GET', path: '/version', timeoutMs: 5000 }).then(
      () => (apiOk = true),
      () => (apiOk = false),
    );
  await probeApi();
  const apiTimer = setInterval(() => void probeApi(), 10_000);
  const { server, port } = await startHealthServer({
    address: opts.healthAddress ?? ':8081',
    metrics,
    readyChecks: {
      'api-server': () => (apiOk ? undefined : 'the API server does not answer'),
      informers: () => (elector.isLeader && !informers.every((i) => i.hasSynced) ? 'caches not synced yet' : undefined),
    },
  });
  logLine({ msg: 'molt operator started', health: `:${port}`, server: client.server });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (code: number, why: string) => {
      if (stopping) return;
      stopping = true;
      logLine({ msg: `stopping: ${why}` });
      clearInterval(apiTimer);
      for (const i of informers) i.stop();
      await controller.stop();
      await tasks.stop();
      await elector.release();
      metrics.leading('molt-operator', false);
      server.close();
      resolve(code);
    };
    process.once('SIGTERM', () => void stop(0, 'SIGTERM'));
    process.once('SIGINT', () => void stop(0, 'SIGINT'));
    const lead = () => {
      metrics.leading('molt-operator', true);
      void Promise.all(informers.map((i) => i.start())).then(() => {
        logLine({ msg: 'caches synced; reconciling', apps: informers[0]?.list().length });
        controller.start();
        tasks.start();
      });
    };
    metrics.leading('molt-operator', false);
    void elector.run(lead, () => void stop(1, 'lost leadership'));
  });
}
