/**
 * `molt upgrade CONTAINER --image IMG`: seed 002's upgrade of any container of the engine,
 * molt's or not, through the same journaled operation as an app upgrade (scripts from the new
 * image's labels, volume snapshots, rollback to the very same old container). The container's
 * whole definition is inherited (core/inherit.ts decides what comes from the new image).
 */
import { MoltError, UpgradeRefusedError } from '../core/errors.ts';
import { requireImageChange, versionOfImage, imageTag, type ContainerDefinition } from '../core/inherit.ts';
import { API_VERSION, UPGRADE_DEFAULTS } from '../core/schema.ts';
import { LABEL, type AppManifest } from '../core/model.ts';
import { initialState } from '../core/upgrade-machine.ts';
import type { OperationRecord } from '../store/types.ts';
import { inheritPlan, resumeInFlight, withLock } from './app-service.ts';
import { runOperation, type RunDeps } from './run-operation.ts';

/** No container of that name or id. */
export class ContainerNotFoundError extends MoltError {
  readonly code = 'ContainerNotFound';
  constructor(ref: string) {
    super(
      `no container "${ref}" on the engine`,
      'List them with `podman ps -a` (or `docker ps -a`) and pass a name or id.',
    );
  }
}

/** What `molt upgrade` was asked for. */
export interface ContainerUpgradeRequest {
  image: string;
  version?: string;
  cmd?: string[];
  entrypoint?: string[];
  /** Seconds the new container must keep running (it has no probe). */
  minReadySeconds?: number;
}

/** Upgrades the container `ref` to `request.image`, waiting until done (or rolled back). */
export async function upgradeContainer(
  deps: RunDeps,
  ref: string,
  request: ContainerUpgradeRequest,
): Promise<OperationRecord> {
  const found = await deps.engine.inspectDefinition(ref);
  // A molt killed mid-upgrade may have left the container parked: its operation is found by name.
  if (!found && !deps.store.inFlightOperation(ref)) throw new ContainerNotFoundError(ref);
  const name = found?.name ?? ref;
  return withLock(deps, name, `molt upgrade ${name}`, async () => {
    await resumeInFlight(deps, name);
    const def = await deps.engine.inspectDefinition(name);
    if (!def) throw new ContainerNotFoundError(ref);
    refuseApps(deps, def);
    const newImageId = await ensureImage(deps, request.image);
    requireImageChange(def, newImageId, request.image);
    const inherit = await inheritPlan(deps, def.id, true);
    const container = await deps.engine.inspectContainer(def.id);
    if (!inherit || !container) throw new ContainerNotFoundError(ref);
    const fromVersion = versionOfImage(def.image, def.process.labels);
    const toVersion = request.version ?? imageTag(request.image) ?? 'latest';
    const previous = standaloneManifest(def, def.image, fromVersion, {});
    const manifest = standaloneManifest(def, request.image, toVersion, request);
    const image = await deps.engine.inspectImage(def.imageId || def.image);
    const plan = {
      manifest,
      previous,
      old: { container, image, wasRunning: container.running },
      inherit,
      trigger: 'apply' as const,
      warnings: [],
    };
    const op = deps.store.createOperation({
      app: name,
      kind: 'upgrade',
      fromVersion,
      toVersion,
      plan,
      state: initialState('upgrade'),
    });
    deps.log(`upgrade container ${name} ${def.image} → ${request.image} (operation ${op.id})`);
    return runOperation(deps, op);
  });
}

/** An app's container is upgraded through its manifest, so what molt records stays true. */
function refuseApps(deps: RunDeps, def: ContainerDefinition): void {
  const app = deps.store.getApp(def.name)?.manifest
    ? def.name
    : def.process.labels[LABEL.managed] === 'true'
      ? def.process.labels[LABEL.app]
      : undefined;
  if (app === undefined) return;
  throw new UpgradeRefusedError(
    'ChangeRefused',
    `container ${def.name} belongs to the molt app "${app}"`,
    `Change spec.image and spec.version in its manifest and run \`molt apply -f\` (\`molt get app ${app} -o yaml\` shows what is installed).`,
  );
}

/** Makes the image present (pulling when missing); returns its id. */
async function ensureImage(deps: RunDeps, image: string): Promise<string> {
  let found = await deps.engine.inspectImage(image);
  if (!found) {
    deps.log(`pulling ${image}`);
    await deps.engine.pullImage(image, deps.signal);
    found = await deps.engine.inspectImage(image);
  }
  if (!found)
    throw new UpgradeRefusedError(
      'ChangeRefused',
      `image ${image} is not present after the pull`,
      'Check the image reference.',
    );
  return found.id;
}

/**
 * The App document an operation on a container that is no app runs with. Only image, version,
 * Cmd/Entrypoint and timings matter: everything else comes from the inherited definition.
 */
function standaloneManifest(
  def: ContainerDefinition,
  image: string,
  version: string,
  request: Partial<ContainerUpgradeRequest>,
): AppManifest {
  const network = Object.keys(def.networks)[0] ?? 'none';
  return {
    apiVersion: API_VERSION,
    kind: 'App',
    metadata: { name: def.name, labels: {} },
    spec: {
      package: `containers/${def.name.toLowerCase().replace(/[^a-z0-9._-]/g, '-')}`,
      version,
      image,
      ...(request.cmd ? { command: request.cmd } : {}),
      ...(request.entrypoint ? { entrypoint: request.entrypoint } : {}),
      env: {},
      volumes: [],
      network: { name: network },
      probes: {},
      minReadySeconds: request.minReadySeconds ?? 2,
      stopTimeoutSeconds: def.stopTimeoutSeconds ?? 10,
      upgradeConfig: { forceUpgrade: true, allowNamespaceSwitch: false },
      upgrade: UPGRADE_DEFAULTS,
    },
  };
}
