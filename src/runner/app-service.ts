/**
 * The app-level commands behind the CLI: plan, apply, rollback, recover, delete. Each takes
 * the app's lock, first finishes (or rolls back) any operation it finds in flight, then
 * decides with the core and runs the resulting operation.
 */
import { namedVolumes } from '../core/settings.ts';
import { AppNotFoundError, InterruptedError, UpgradeRefusedError } from '../core/errors.ts';
import { parkedName } from '../core/container-spec.ts';
import { LABEL, type AppManifest } from '../core/model.ts';
import { decide, type Decision } from '../core/plan.ts';
import { initialState } from '../core/upgrade-machine.ts';
import type { OperationPlan, OperationRecord } from '../store/types.ts';
import { runOperation, type RunDeps } from './run-operation.ts';
import { publishStatus } from './publish-status.ts';
import { convergeLocked, type Converged } from './lifecycle.ts';
import { RunIntents } from '../store/intents.ts';
import { inputsChanged } from './host-inputs.ts';

/** The result of applying one manifest. */
export interface ApplyResult {
  decision: Decision;
  operation?: OperationRecord;
  resumed?: OperationRecord;
  /** An unchanged app brought back to running (apply converges). */
  converged?: Converged;
}

/** What `plan` shows for one manifest, without acting. */
export function planApp(deps: Pick<RunDeps, 'store'>, manifest: AppManifest, changedInputs = false): Decision {
  return decide(manifest, deps.store.getApp(manifest.metadata.name)?.manifest, changedInputs);
}

/** Creates or upgrades the app to `manifest`, waiting until done. */
export async function applyApp(deps: RunDeps, manifest: AppManifest, trigger: OperationPlan['trigger'] = 'apply'): Promise<ApplyResult> {
  const name = manifest.metadata.name;
  return withLock(deps, name, `molt ${trigger} ${name}`, async () => {
    const resumed = await resumeInFlight(deps, name);
    const record = deps.store.getApp(name);
    const changedInputs = record?.manifest ? await inputsChanged(deps.engine, deps.home, manifest, record.status.containerId) : false;
    const decision = decide(manifest, record?.manifest, changedInputs);
    for (const w of decision.action === 'install' || decision.action === 'upgrade' ? decision.warnings : []) deps.log(`WARNING: ${w}`);
    if (decision.action === 'none' || decision.action === 'record') {
      if (decision.action === 'record') deps.store.saveApp(name, manifest, record?.status ?? { phase: 'Running', conditions: [] });
      // Apply converges: a container that should run and does not is started (or recreated).
      const converged = record?.manifest && trigger === 'apply' ? await convergeLocked(deps, deps.store.getApp(name)!) : undefined;
      return { decision, resumed, ...(converged ? { converged } : {}) };
    }
    if (deps.signal.aborted) throw deps.signal.reason;
    const plan = await planOperation(deps, manifest, record?.manifest, decision, trigger);
    const op = deps.store.createOperation({ app: name, kind: plan.old ? 'upgrade' : 'install', fromVersion: record?.manifest?.spec.version, toVersion: manifest.spec.version, plan, state: initialState(plan.old ? 'upgrade' : 'install') });
    deps.log(`${op.kind} ${name}${op.fromVersion ? ` ${op.fromVersion} →` : ''} ${op.toVersion} (operation ${op.id})`);
    const done = await runOperation(deps, op);
    // The new container runs: whatever `molt stop` recorded no longer holds.
    if (done.state.phase === 'Succeeded') new RunIntents(deps.store).forget(name);
    return { decision, operation: done, resumed };
  });
}

/** Goes back to the version installed before the current one, keeping the data. */
export async function rollbackApp(deps: RunDeps, name: string): Promise<ApplyResult> {
  const record = deps.store.getApp(name);
  if (!record) throw new AppNotFoundError(name);
  const current = record.manifest?.spec.version;
  const last = deps.store.listOperations(name).reverse().find((o) => o.state.phase === 'Succeeded' && o.plan.previous && o.toVersion === current);
  if (!last?.plan.previous) {
    throw new UpgradeRefusedError('ChangeRefused', `app "${name}" has no previous version to roll back to`, 'Rollback needs an earlier successful upgrade; see `molt history ' + name + '`.');
  }
  const previous = last.plan.previous;
  deps.log(`rolling ${name} back from ${current} to ${previous.spec.version}`);
  const target: AppManifest = { ...previous, spec: { ...previous.spec, upgradeConfig: { ...previous.spec.upgradeConfig, forceUpgrade: true } } };
  return applyApp(deps, target, 'rollback');
}

/** Finishes or rolls back whatever operation of the app was interrupted. */
export async function recoverApp(deps: RunDeps, name: string): Promise<OperationRecord | undefined> {
  return withLock(deps, name, `molt recover ${name}`, () => resumeInFlight(deps, name));
}

/** Removes the app's containers (and its volumes when asked) and forgets it. */
export async function deleteApp(deps: RunDeps, name: string, withVolumes: boolean): Promise<string[]> {
  return withLock(deps, name, `molt delete ${name}`, async () => {
    const record = deps.store.getApp(name);
    const containers = await deps.engine.listContainers([`${LABEL.app}=${name}`]);
    if (!record && containers.length === 0) throw new AppNotFoundError(name);
    await resumeInFlight(deps, name);
    const removed: string[] = [];
    const volumes = new Set(namedVolumes(record?.manifest?.spec.volumes ?? []).map((v) => v.name) ?? []);
    for (const c of await deps.engine.listContainers([`${LABEL.app}=${name}`])) {
      c.mounts.filter((m) => m.type === 'volume').forEach((m) => volumes.add(m.source));
      await deps.engine.stopContainer(c.id, record?.manifest?.spec.stopTimeoutSeconds ?? 10);
      await deps.engine.removeContainer(c.id);
      removed.push(`container ${c.name}`);
    }
    if (withVolumes) {
      for (const v of volumes) {
        if (await deps.engine.volumeExists(v)) {
          await deps.engine.removeVolume(v);
          removed.push(`volume ${v}`);
        }
      }
    }
    deps.store.deleteApp(name);
    new RunIntents(deps.store).forget(name);
    return removed;
  });
}

export async function withLock<T>(deps: RunDeps, name: string, command: string, fn: () => Promise<T>): Promise<T> {
  deps.store.lock(name, command);
  try {
    return await fn();
  } finally {
    deps.store.unlock(name);
  }
}

export async function resumeInFlight(deps: RunDeps, name: string): Promise<OperationRecord | undefined> {
  const op = deps.store.inFlightOperation(name);
  if (!op) return undefined;
  const where = 'step' in op.state ? ` at ${op.state.step}` : '';
  deps.log(`found operation ${op.id} (${op.kind} ${op.fromVersion ?? ''}→${op.toVersion}) interrupted${where}; continuing it`);
  const done = await runOperation(deps, op);
  publishStatus(deps.store, done, done.state, done.facts);
  return done;
}

/** Observes the instance being replaced and fixes everything the operation will need. */
export async function planOperation(deps: RunDeps, manifest: AppManifest, previous: AppManifest | undefined, decision: Decision, trigger: OperationPlan['trigger']): Promise<OperationPlan> {
  const warnings = decision.action === 'install' || decision.action === 'upgrade' ? [...decision.warnings] : [];
  if (!previous) return { manifest, trigger, warnings };
  const name = manifest.metadata.name;
  const id = deps.store.getApp(name)?.status.containerId;
  const container = (id && (await deps.engine.inspectContainer(id))) || (await deps.engine.inspectContainer(name)) || (await deps.engine.inspectContainer(parkedName(name)));
  if (!container) {
    deps.log(`WARNING: the container of ${name} is gone; installing ${manifest.spec.version} afresh on the same volumes`);
    return { manifest, previous, trigger, ip: deps.store.getApp(name)?.status.ip, warnings: [...warnings, 'old container was missing'] };
  }
  const image = await deps.engine.inspectImage(container.imageId || container.image);
  return { manifest, previous, old: { container, image, wasRunning: container.running }, trigger, warnings };
}

/** Makes an InterruptedError for a signal reason. */
export function interrupted(reason: 'Interrupted' | 'Timeout', detail: string): InterruptedError {
  return new InterruptedError(reason, detail);
}
