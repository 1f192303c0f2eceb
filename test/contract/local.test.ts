/** The contract suite on Podman/Docker's path: the runner (journal → act → record) on a fake ContainerEngine. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MEMBER_LABEL } from '../../src/core/release.ts';
import { applyApp, rollbackApp } from '../../src/runner/app-service.ts';
import { applyRelease, applyReleaseApp } from '../../src/runner/release-service.ts';
import type { RunDeps } from '../../src/runner/run-operation.ts';
import { openEndpoints } from '../../src/runner/task-endpoints.ts';
import { runTask } from '../../src/runner/task-worker.ts';

import { Store } from '../../src/store/store.ts';

import { FakeEngine } from '../../src/testing/fake-engine.ts';
import { contractSuite, type ContractDriver } from './scenarios.ts';

contractSuite('podman (fake engine)', async () => {
  const home = mkdtempSync(join(tmpdir(), 'molt-contract-'));
  const engine = new FakeEngine(join(home, 'engine'));
  engine.addProgram('fail', () => ({ exitCode: 1, stdout: '', stderr: 'the script failed on purpose\n' }));
  const store = Store.open(join(home, 'molt'));
  const deps: RunDeps = {
    engine,
    store,
    home: join(home, 'molt'),
    signal: new AbortController().signal,
    log: () => undefined,
  };
  const volumeOf = (app: string): string | undefined => {
    const id = store.getApp(app)?.status.containerId;
    const c = id ? engine.container(id) : undefined;
    return c?.spec.mounts.find((m) => m.destination === '/data')?.source;
  };
  const driver: ContractDriver & { close(): Promise<void> } = {
    image: (ref, image) => engine.addImage(ref, image),
    applyApp: async (m) => void (await applyApp(deps, m)),
    rollbackApp: async (name) => void (await rollbackApp(deps, name)),
    app: async (name) => {
      const s = store.getApp(name)?.status;
      const volume = volumeOf(name);
      let data: string | undefined;
      try {
        data = volume ? readFileSync(join(engine.volumeDir(volume), 'state'), 'utf8') : undefined;
      } catch {
        data = undefined;
      }
      return {
        installedVersion: s?.installedVersion,
        image: s?.image,
        lastOutcome: s?.lastUpgrade?.outcome,
        lastReason: s?.lastUpgrade?.error?.code,
        ...(data !== undefined ? { data } : {}),
      };
    },
    writeData: async (app, content) => {
      const dir = engine.volumeDir(volumeOf(app) ?? '');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'state'), content);
    },
    applyRelease: async (r) => void applyRelease(deps, r),
    applyReleaseApp: async (m) => void (await applyReleaseApp(deps, m)),
    releaseApp: async (name) => {
      const record = store.releases.getApp(name);
      const members = Object.fromEntries(
        (record?.status.roles ?? [])
          .flatMap((r) => r.members)
          .map((m) => [m.name, store.getApp(m.name)?.manifest?.metadata.labels[MEMBER_LABEL.release]]),
      );
      const last = record?.status.lastUpgrade;
      return {
        release: record?.status.release,
        lastOutcome: last?.outcome,
        lastReason: last?.error?.code,
        lastMessage: last?.error?.message,
        members,
      };
    },
    runTask: async (manifest) => {
      const tasks = store.tasks;
      tasks.saveTask(manifest, undefined);
      const endpoints = openEndpoints({
        task: manifest,
        tasks,
        mainStore: store,
        mainHome: deps.home,
        connectLocal: async () => engine,
      });
      try {
        await runTask(
          { tasks, endpoints, progress: () => undefined, log: () => undefined, signal: new AbortController().signal },
          manifest.metadata.name,
        );
      } finally {
        endpoints.close();
      }
      const t = tasks.getTask(manifest.metadata.name);
      return {
        phase: t?.state.phase ?? '',
        reason: t?.state.reason ?? '',
        targets: Object.fromEntries(tasks.listTargets(manifest.metadata.name).map((x) => [x.target, x.phase])),
      };
    },
    close: async () => {
      store.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
  return driver;
});
