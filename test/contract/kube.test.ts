/** The contract suite on Kubernetes' path: the operator's reconcilers and task worker on a fake API server. */
import { setTimeout as sleep } from 'node:timers/promises';
import { rollbackTarget } from '../../src/cli/kube-render.ts';
import { EventRecorder, RESOURCES, type KubeObject } from '../../src/engines/kubernetes/index.ts';
import { ANNOTATIONS } from '../../src/operator/app/names.ts';
import { reconcileApp, type AppReconcilerDeps } from '../../src/operator/app/reconciler.ts';
import type { AppStatus } from '../../src/operator/crd/status.ts';
import { runKubeTask } from '../../src/operator/task/worker.ts';
import { FakeKube } from '../../src/testing/fake-kube.ts';
import { contractSuite, type ContractDriver } from './scenarios.ts';

const NS = 'contract';

/**
 * The fake API server runs no Jobs and provisions no claims, so the operator's volume copies
 * (copy Jobs of molt's image) are off here: the state machine's copy steps are pinned by
 * operator/app/decide.test.ts, and run for real on the test cluster (k8s-registry, the kill
 * matrix, test/conformance).
 */
function withoutCopies<S extends object>(spec: S): S {
  const upgrade = ((spec as { upgrade?: object }).upgrade ?? {}) as object;
  return { ...spec, upgrade: { ...upgrade, snapshotVolumes: false } };
}

type AppObj = KubeObject & { spec?: Record<string, unknown>; status?: AppStatus };

contractSuite('kubernetes (fake API server)', async () => {
  const kube = new FakeKube();
  kube.programs.set('fail', () => ({ exitCode: 1, stdout: '', stderr: 'the script failed on purpose\n' }));
  const signal = new AbortController().signal;
  const deps: AppReconcilerDeps = {
    api: kube.api,
    client: kube.client,
    events: new EventRecorder(kube.api, 'molt.dev/app-controller', 'contract'),
    log: () => undefined,
  };
  const claims = new Map<string, string>();
  const get = (name: string) => kube.api.get<AppObj>(RESOURCES.apps, NS, name);

  /**
   * Reconciles the app (and runs the controllers) until the operator has nothing left to do
   * and every member is Ready — the pod events an informer would deliver are this loop.
   */
  const settle = async (name: string): Promise<void> => {
    for (let i = 0; i < 500; i++) {
      kube.tick();
      const r = await reconcileApp(deps, `${NS}/${name}`, signal);
      const ready = (await get(name))?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      if (r.requeueAfterMs === undefined && ready) return;
      await sleep(2);
    }
    throw new Error(`app ${name} did not settle: ${JSON.stringify((await get(name))?.status?.conditions)}`);
  };
  /** Creates the App, or replaces its spec (and annotations) as `kubectl apply` would. */
  const put = async (
    name: string,
    spec: unknown,
    labels: Record<string, string>,
    annotations: Record<string, string> = {},
  ): Promise<void> => {
    const existing = await get(name);
    if (!existing)
      await kube.api.create(RESOURCES.apps, NS, { metadata: { name, labels, annotations }, spec } as KubeObject);
    else
      await kube.api.replace(RESOURCES.apps, NS, {
        ...existing,
        metadata: { ...existing.metadata, annotations: { ...existing.metadata.annotations, ...annotations } },
        spec,
      } as KubeObject);
    await settle(name);
  };
  const podData = (app: string) => claims.get(`data-${app}-0`);

  const driver: ContractDriver & { close(): Promise<void> } = {
    image: (ref, image) => kube.images.set(ref, image),
    applyApp: (m) => put(m.metadata.name, withoutCopies(m.spec), m.metadata.labels),
    rollbackApp: async (name) => {
      const app = await get(name);
      const s = app?.status;
      const target = rollbackTarget(s?.history, s?.installedVersion);
      if (!app || !target?.spec) throw new Error(`${name}: nothing to roll back to`);
      await put(name, target.spec, app.metadata.labels ?? {}, { [ANNOTATIONS.rollbackTo]: target.to });
    },
    app: async (name) => {
      const s = (await get(name))?.status;
      const data = podData(name);
      return {
        installedVersion: s?.installedVersion,
        image: s?.image,
        lastOutcome: s?.lastUpgrade?.outcome,
        lastReason: s?.lastUpgrade?.outcome === 'Succeeded' ? undefined : s?.lastUpgrade?.reason,
        ...(data !== undefined ? { data } : {}),
      };
    },
    // A member's claim outlives its pod: the data is the claim's.
    writeData: async (app, content) => void claims.set(`data-${app}-0`, content),
    applyRelease: async (r) =>
      void (await kube.api.create(RESOURCES.releases, undefined, {
        metadata: { name: r.metadata.name },
        spec: { ...r.spec, roles: r.spec.roles.map(withoutCopies) },
      } as KubeObject)),
    applyReleaseApp: (m) => put(m.metadata.name, m.spec, m.metadata.labels),
    releaseApp: async (name) => {
      const s = (await get(name))?.status;
      const pods = kube
        .list('pods', NS)
        .filter(
          (p) => p.metadata.labels?.['molt.dev/app'] === name && p.metadata.labels?.['molt.dev/component'] === 'member',
        );
      const members = Object.fromEntries(
        pods.map((p) => [p.metadata.name ?? '', p.metadata.labels?.['molt.dev/release']]),
      );
      return {
        release: s?.release,
        lastOutcome: s?.lastUpgrade?.outcome,
        lastReason: s?.lastUpgrade?.outcome === 'Succeeded' ? undefined : s?.lastUpgrade?.reason,
        lastMessage: s?.lastUpgrade?.message,
        members,
      };
    },
    runTask: async (manifest) => {
      await kube.api.create(RESOURCES.upgradeTasks, NS, {
        metadata: { name: manifest.metadata.name },
        spec: manifest.spec,
      } as KubeObject);
      // The operator keeps reconciling every App while the worker runs.
      let running = true;
      const operator = (async () => {
        while (running) {
          kube.tick();
          for (const a of kube.list('apps', NS))
            await reconcileApp(deps, `${NS}/${a.metadata.name}`, signal).catch(() => undefined);
          await sleep(2);
        }
      })();
      try {
        const { status } = await runKubeTask(
          { api: kube.api, namespace: NS, progress: () => undefined, signal, pollMs: 5 },
          manifest.metadata.name,
        );
        return {
          phase: status.phase ?? '',
          reason: status.reason ?? '',
          targets: Object.fromEntries((status.targets ?? []).map((t) => [t.name, t.phase])),
        };
      } finally {
        running = false;
        await operator;
      }
    },
    close: async () => undefined,
  };
  return driver;
});
