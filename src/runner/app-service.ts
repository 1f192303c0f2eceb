/**
 * The app-level commands behind the CLI: plan, apply, rollback, recover, delete. Each takes
 * the app's lock, first finishes (or rolls back) any operation it finds in flight, then
 * decides with the core and runs the resulting operation.
 */
import { namedVolumes } from '../core/settings.ts';
import { AppNotFoundError, InterruptedError, UpgradeRefusedError } from '../core/errors.ts';
import { parkedName } from '../core/container-spec.ts';
import { inheritsDefinition, type InheritPlan } from '../core/inherit.ts';
import { LABEL, type AppManifest, type ContainerObservation } from '../core/model.ts';
import { decide, type Decision } from '../core/plan.ts';
import { initialState } from '../core/upgrade-machine.ts';
import type { OperationPlan, OperationRecord } from '../store/types.ts';
import { runOperation, type RunDeps } from './run-operation.ts';
import { publishStatus } from './publish-status.ts';
import { inputsChanged } from './host-inputs.ts';
import { convergeLocked, type Converged } from './lifecycle.ts';
import { RunIntents } from '../store/intents.ts';

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
  return decide(manifest, deps.store.getApp(manifest.metadata.name)?.manifest, { inputsChanged: changedInputs });
}

/** Creates or upgrades the app to `manifest`, waiting until done. */
export async function applyApp(
  deps: RunDeps,
  manifest: AppManifest,
  trigger: OperationPlan['trigger'] = 'apply',
  pinnedImage?: string,
): Promise<ApplyResult> {
  const name = manifest.metadata.name;
  return withLock(deps, name, `molt ${trigger} ${name}`, async () => {
    const resumed = await resumeInFlight(deps, name);
    const record = deps.store.getApp(name);
    const changedInputs = record?.manifest
      ? await inputsChanged(deps.engine, deps.home, manifest, record.status.containerId)
      : false;
    const decision = decide(manifest, record?.manifest, {
      goingBack: trigger !== 'apply',
      inputsChanged: changedInputs,
    });
    for (const w of decision.action === 'install' || decision.action === 'upgrade' ? decision.warnings : [])
      deps.log(`WARNING: ${w}`);
    if (decision.action === 'none' || decision.action === 'record') {
      if (decision.action === 'record')
        deps.store.saveApp(name, manifest, record?.status ?? { phase: 'Running', conditions: [] });
      // Apply converges: a container that should run and does not is started (or recreated).
      const converged =
        record?.manifest && trigger === 'apply' ? await convergeLocked(deps, deps.store.getApp(name)!) : undefined;
      return { decision, resumed, ...(converged ? { converged } : {}) };
    }
    if (deps.signal.aborted) throw deps.signal.reason;
    const plan = await planOperation(deps, manifest, record?.manifest, decision, trigger);
    if (pinnedImage) plan.pinnedImage = pinnedImage;
    const op = deps.store.createOperation({
      app: name,
      kind: plan.old ? 'upgrade' : 'install',
      fromVersion: record?.manifest?.spec.version,
      toVersion: manifest.spec.version,
      plan,
      state: initialState(plan.old ? 'upgrade' : 'install'),
    });
    deps.log(
      `${trigger === 'apply' ? op.kind : trigger} ${name}${op.fromVersion ? ` ${op.fromVersion} →` : ''} ${op.toVersion} (operation ${op.id})`,
    );
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
  const last = deps.store
    .listOperations(name)
    .reverse()
    .find((o) => o.state.phase === 'Succeeded' && o.plan.previous && o.toVersion === current);
  if (!last?.plan.previous) {
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `app "${name}" has no previous version to roll back to`,
      'Rollback needs an earlier successful upgrade; see `molt history ' + name + '`.',
    );
  }
  const previous = last.plan.previous;
  deps.log(`rolling ${name} back from ${current} to ${previous.spec.version}`);
  // The previous spec exactly as it was applied (a rollback records nothing the user did not
  // write), run as the digest the previous version ran: its tag may name other content by now.
  const ran = deps.store
    .listOperations(name)
    .reverse()
    .find(
      (o) =>
        o.state.phase === 'Succeeded' &&
        o.toVersion === previous.spec.version &&
        o.plan.manifest.spec.image === previous.spec.image &&
        o.facts.image,
    );
  if (ran?.facts.image)
    deps.log(`running ${previous.spec.image} as the digest ${previous.spec.version} ran: ${ran.facts.image.ref}`);
  return applyApp(deps, previous, 'rollback', ran?.facts.image?.ref);
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
    for (const c of await appContainers(deps, name, record?.status.containerId)) {
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

/** The app's containers: those labelled with it, and an adopted one molt has not re-created yet (it has no label). */
async function appContainers(
  deps: RunDeps,
  name: string,
  recordedId: string | undefined,
): Promise<ContainerObservation[]> {
  const labelled = await deps.engine.listContainers([`${LABEL.app}=${name}`]);
  const recorded =
    recordedId && !labelled.some((c) => c.id === recordedId)
      ? await deps.engine.inspectContainer(recordedId)
      : undefined;
  return recorded ? [...labelled, recorded] : labelled;
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
  deps.log(
    `found operation ${op.id} (${op.kind} ${op.fromVersion ?? ''}→${op.toVersion}) interrupted${where}; continuing it`,
  );
  const done = await runOperation(deps, op);
  publishStatus(deps.store, done, done.state, done.facts);
  return done;
}

/** Observes the instance being replaced and fixes everything the operation will need. */
export async function planOperation(
  deps: RunDeps,
  manifest: AppManifest,
  previous: AppManifest | undefined,
  decision: Decision,
  trigger: OperationPlan['trigger'],
): Promise<OperationPlan> {
  const warnings = decision.action === 'install' || decision.action === 'upgrade' ? [...decision.warnings] : [];
  if (!previous) return { manifest, trigger, warnings };
  const name = manifest.metadata.name;
  const id = deps.store.getApp(name)?.status.containerId;
  const container =
    (id && (await deps.engine.inspectContainer(id))) ||
    (await deps.engine.inspectContainer(name)) ||
    (await deps.engine.inspectContainer(parkedName(name)));
  if (!container) {
    deps.log(
      `WARNING: the container of ${name} is gone; installing ${manifest.spec.version} afresh on the same volumes`,
    );
    return {
      manifest,
      previous,
      trigger,
      ip: deps.store.getApp(name)?.status.ip,
      warnings: [...warnings, 'old container was missing'],
    };
  }
  const image = await deps.engine.inspectImage(container.imageId || container.image);
  const inherit = inheritsDefinition(container.labels) ? await inheritPlan(deps, container.id, false) : undefined;
  return {
    manifest,
    previous,
    old: { container, image, wasRunning: container.running },
    trigger,
    warnings,
    ...(inherit ? { inherit } : {}),
  };
}

/** The definition of a container molt did not create from a manifest alone (adopted, or upgraded by `molt upgrade`), to inherit. */
export async function inheritPlan(
  deps: Pick<RunDeps, 'engine'>,
  id: string,
  standalone: boolean,
): Promise<InheritPlan | undefined> {
  const definition = await deps.engine.inspectDefinition(id);
  if (!definition) return undefined;
  const oldImage = await deps.engine.imageProcess(definition.imageId || definition.image);
  return { definition, ...(oldImage ? { oldImage } : {}), standalone };
}

/** Makes an InterruptedError for a signal reason. */
export function interrupted(reason: 'Interrupted' | 'Timeout', detail: string): InterruptedError {
  return new InterruptedError(reason, detail);
}
