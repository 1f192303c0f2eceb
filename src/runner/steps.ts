/**
 * What each step of the upgrade state machine does to the engine. Every step observes first
 * and is safe to run again after a crash (level-based): it converges on its goal instead of
 * repeating an action.
 */
import { namedVolumes } from '../core/settings.ts';
import { ImageUnavailableError, NoFreeAddressError, NotReadyError } from '../core/errors.ts';
import { macForIPv4, newContainerSpec, parkedName } from '../core/container-spec.ts';
import { LABEL } from '../core/model.ts';
import { intToIp, ipInSubnet, ipToInt } from '../core/schema.ts';
import { upgradeFailureThreshold } from '../core/policy/index.ts';
import type { StepName } from '../core/upgrade-machine.ts';
import { awaitReady } from './probe.ts';
import { fetchScripts, openStartupGate, postUpgrade, preUpgrade } from './script-steps.ts';
import { pruneSnapshots, restoreVolumes, snapshotVolumes } from './snapshot-steps.ts';
import { removeHelpers } from './helpers.ts';
import { monitorNew } from './monitor-step.ts';
import { createInherited, pinOldNetworks, prepareInherited, recreateFromDefinition } from './inherit-steps.ts';
import { inputsKey, putFiles, readInputs, withDigest } from './host-inputs.ts';
import { imageDigest } from './image-digest.ts';
import {
  appName,
  findNew,
  manifestOf,
  oldInstance,
  requireIp,
  requireOld,
  type Step,
  type StepContext,
} from './step-context.ts';

/** The default subnet of a network molt creates. */
export const DEFAULT_SUBNET = '10.90.0.0/24';

async function ensureImage(ctx: StepContext): Promise<string> {
  const image = manifestOf(ctx).spec.image;
  const present = await ctx.engine.inspectImage(image);
  if (present) {
    ctx.facts.image = imageDigest(image, present);
    return `${image} is present (${ctx.facts.image.digest})`;
  }
  ctx.log(`pulling ${image}`);
  await ctx.engine.pullImage(image, ctx.signal);
  const pulled = await ctx.engine.inspectImage(image);
  if (!pulled) throw new ImageUnavailableError(image, 'the pull reported success but the image is not there');
  ctx.facts.image = imageDigest(image, pulled);
  return `pulled ${image} (${ctx.facts.image.digest})`;
}

async function prepareResources(ctx: StepContext): Promise<string> {
  if (ctx.op.plan.inherit?.standalone) return prepareInherited(ctx);
  const { spec, metadata } = manifestOf(ctx);
  const net = spec.network;
  const existing = await ctx.engine.inspectNetwork(net.name);
  if (!existing) await ctx.engine.createNetwork(net.name, net.subnet ?? DEFAULT_SUBNET);
  for (const v of namedVolumes(spec.volumes)) {
    if (!(await ctx.engine.volumeExists(v.name)))
      await ctx.engine.createVolume(v.name, { [LABEL.app]: metadata.name, [LABEL.managed]: 'true' });
  }
  ctx.facts.ip ??= await chooseIp(ctx);
  return `network ${net.name}${existing ? '' : ' (created)'}, ${spec.volumes.length} volume(s), IP ${ctx.facts.ip}`;
}

/**
 * The manifest's IP, else the old container's on the same network, else the first free one;
 * reserved in the store so concurrent installs (members of one release app) never pick the
 * same address.
 */
async function chooseIp(ctx: StepContext): Promise<string> {
  const net = manifestOf(ctx).spec.network;
  const app = appName(ctx);
  const old = ctx.op.plan.old?.container;
  const wanted = net.ipv4 || old?.requestedIps[net.name] || old?.networks[net.name] || ctx.op.plan.ip;
  if (wanted) {
    if (!ctx.store.reserveIp(net.name, app, [wanted]))
      throw new NoFreeAddressError(net.name, `${wanted} is reserved by another app`);
    return wanted;
  }
  const subnets = (await ctx.engine.inspectNetwork(net.name))?.subnets ?? [net.subnet ?? DEFAULT_SUBNET];
  const subnet = subnets.find((s) => s.includes('.')) ?? DEFAULT_SUBNET;
  const used = await ctx.engine.addressesInUse(net.name);
  const ip = ctx.store.reserveIp(net.name, app, freeAddresses(subnet, used));
  if (!ip) throw new NoFreeAddressError(net.name, subnet);
  return ip;
}

/** Host addresses of the subnet (skipping the gateway .1) not in `used`, in order. */
function* freeAddresses(subnet: string, used: Set<string>): Generator<string> {
  const [base, bits] = subnet.split('/');
  const size = 2 ** (32 - Number(bits));
  const first = ipToInt(base ?? '');
  for (let i = 2; i < size - 1; i++) {
    const ip = intToIp(first + i);
    if (!used.has(ip) && ipInSubnet(ip, subnet)) yield ip;
  }
}

async function stopOld(ctx: StepContext): Promise<string> {
  const old = requireOld(ctx);
  const now = await ctx.engine.inspectContainer(old.container.id);
  if (!now?.running) {
    // A re-run after a kill: the pin may have been cut half-way.
    if (ctx.op.plan.inherit && now) await pinOldNetworks(ctx, old.container.id);
    return 'already stopped';
  }
  const grace = ctx.op.plan.previous?.spec.stopTimeoutSeconds ?? manifestOf(ctx).spec.stopTimeoutSeconds;
  await ctx.engine.stopContainer(old.container.id, grace);
  const pinned = ctx.op.plan.inherit ? await pinOldNetworks(ctx, old.container.id) : [];
  return `stopped ${old.container.name} (${old.container.id.slice(0, 12)})${pinned.length ? `; pinned ${pinned.join(', ')} for a restart` : ''}`;
}

async function renameOld(ctx: StepContext): Promise<string> {
  const old = requireOld(ctx);
  const target = parkedName(appName(ctx));
  const now = await ctx.engine.inspectContainer(old.container.id);
  if (!now)
    throw new NotReadyError(
      'ContainerExited',
      `the old container ${old.container.id.slice(0, 12)} disappeared`,
      'Something removed it outside molt; the rollback will recreate it.',
    );
  if (now.name === target) return `already parked as ${target}`;
  await ctx.engine.renameContainer(old.container.id, target);
  return `parked as ${target}`;
}

async function createNew(ctx: StepContext): Promise<string> {
  const existing = await existingNew(ctx);
  // envFrom files and secrets are read now, never journaled (a secret lives only in the container).
  const inputs = withDigest(manifestOf(ctx).spec, readInputs(manifestOf(ctx).spec), inputsKey(ctx.home));
  if (existing) {
    ctx.facts.newContainerId = existing;
    await putFiles(ctx.engine, existing, inputs.files, manifestOf(ctx).spec.user, ctx.signal);
    await openStartupGate(ctx, existing);
    return `already created (${existing.slice(0, 12)})`;
  }
  const spec = newContainerSpec(manifestOf(ctx), oldInstance(ctx), requireIp(ctx), String(ctx.op.id), inputs);
  if (ctx.op.plan.inherit) {
    ctx.facts.newContainerId = await createInherited(ctx, spec);
    await putFiles(ctx.engine, ctx.facts.newContainerId, inputs.files, spec.user, ctx.signal);
    await openStartupGate(ctx, ctx.facts.newContainerId);
    return `created ${appName(ctx)} (${ctx.facts.newContainerId.slice(0, 12)}) from the old container's definition with ${spec.image}`;
  }
  ctx.facts.newContainerId = await ctx.engine.createContainer(spec);
  await putFiles(ctx.engine, ctx.facts.newContainerId, inputs.files, spec.user, ctx.signal);
  await openStartupGate(ctx, ctx.facts.newContainerId);
  return `created ${spec.name} (${ctx.facts.newContainerId.slice(0, 12)}) at ${spec.network?.ipv4}${spec.cmd ? ` cmd ${JSON.stringify(spec.cmd)}` : ''}`;
}

/**
 * The new container of this operation if a crashed run already created it. It has the app's
 * name (the old one is parked first), so one inspect by name answers; the label search, which
 * makes the engine look at every container, runs only when something else holds the name.
 */
async function existingNew(ctx: StepContext): Promise<string | undefined> {
  const byName = await ctx.engine.inspectContainer(appName(ctx));
  if (!byName) return undefined;
  if (byName.labels[LABEL.upgrade] === String(ctx.op.id) && byName.labels[LABEL.helper] === undefined) return byName.id;
  return findNew(ctx);
}

async function startNew(ctx: StepContext): Promise<string> {
  const id = ctx.facts.newContainerId ?? (await findNew(ctx));
  if (!id)
    throw new NotReadyError(
      'ContainerExited',
      'the new container was not found',
      'Re-run the command; the operation will recreate it.',
    );
  await ctx.engine.startContainer(id);
  return `started ${id.slice(0, 12)}`;
}

async function awaitNewReady(ctx: StepContext): Promise<string> {
  const { spec } = manifestOf(ctx);
  const id = ctx.facts.newContainerId ?? (await findNew(ctx)) ?? '';
  const passed = await awaitReady(ctx.engine, {
    containerId: id,
    ip: requireIp(ctx),
    probe: spec.probes.startup,
    failureThreshold: ctx.op.kind === 'upgrade' ? upgradeFailureThreshold(spec, spec.probes.startup) : undefined,
    minReadySeconds: spec.minReadySeconds,
    signal: ctx.signal,
    onAttempt: (a, n) => {
      if (!a.ok) ctx.log(`probe attempt ${n}: ${a.detail}`);
    },
  });
  ctx.facts.newReady = true;
  return passed;
}

async function removeOld(ctx: StepContext): Promise<string> {
  await removeHelpers(ctx);
  const old = requireOld(ctx);
  await ctx.engine.removeContainer(old.container.id);
  return `removed ${old.container.id.slice(0, 12)}; volumes kept`;
}

async function removeNew(ctx: StepContext): Promise<string> {
  await removeHelpers(ctx);
  const id = ctx.facts.newContainerId ?? (await findNew(ctx));
  if (!id) return 'no new container to remove';
  // A graceful stop protects data the container keeps. There is none to protect when the
  // volumes are about to be restored from their snapshots, or when the container never became
  // ready: it is killed rather than waited for (its stopTimeoutSeconds) while the app is down.
  const why = !ctx.facts.newReady
    ? 'it never became ready'
    : (ctx.facts.snapshots?.length ?? 0) > 0
      ? 'its volumes are restored from their snapshots'
      : undefined;
  await ctx.engine.removeContainer(id, { kill: why !== undefined });
  return `removed the new container ${id.slice(0, 12)}${why ? ` (killed: ${why})` : ''}`;
}

async function restoreOldName(ctx: StepContext): Promise<string> {
  const old = requireOld(ctx);
  const now = await ctx.engine.inspectContainer(old.container.id);
  if (!now) {
    const recreated = await recreateOld(ctx);
    return `the old container had vanished; recreated it exactly as observed (${recreated.slice(0, 12)})`;
  }
  if (now.name === appName(ctx)) return 'old container has its name';
  await ctx.engine.renameContainer(old.container.id, appName(ctx));
  return `renamed back to ${appName(ctx)}`;
}

async function startOld(ctx: StepContext): Promise<string> {
  const old = requireOld(ctx);
  if (!old.wasRunning) return 'the old container was not running before; left stopped';
  const id = await currentOldId(ctx);
  // Its addresses and MAC pinned again (StopOld may have been cut half-way through pinning them).
  if (ctx.op.plan.inherit && !ctx.facts.recreatedOldId && !(await ctx.engine.inspectContainer(id))?.running)
    await pinOldNetworks(ctx, id);
  await ctx.engine.startContainer(id);
  return `started ${id.slice(0, 12)}`;
}

async function awaitOld(ctx: StepContext): Promise<string> {
  const old = requireOld(ctx);
  if (!old.wasRunning) return 'nothing to wait for';
  const previous = ctx.op.plan.previous?.spec;
  const ip =
    old.container.requestedIps[manifestOf(ctx).spec.network.name] ?? Object.values(old.container.networks)[0] ?? '';
  return awaitReady(ctx.engine, {
    containerId: await currentOldId(ctx),
    ip,
    probe: previous?.probes.startup,
    minReadySeconds: Math.min(previous?.minReadySeconds ?? 1, 2),
    signal: new AbortController().signal,
  });
}

/** Recreates the old container from its journaled observation (used only if it vanished). */
async function recreateOld(ctx: StepContext): Promise<string> {
  if (ctx.op.plan.inherit) {
    ctx.facts.recreatedOldId = await recreateFromDefinition(ctx);
    return ctx.facts.recreatedOldId;
  }
  const { container } = requireOld(ctx);
  const [network, ip] = Object.entries(container.requestedIps)[0] ?? Object.entries(container.networks)[0] ?? [];
  // The observation never holds a secret's value: read the secrets again from the old manifest's files.
  const previous = ctx.op.plan.previous;
  const inputs = previous ? readInputs(previous.spec) : undefined;
  const env = {
    ...Object.fromEntries(container.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
    ...inputs?.secretEnv,
  };
  const id = await ctx.engine.createContainer({
    name: appName(ctx),
    image: container.imageId || container.image,
    cmd: container.cmd,
    entrypoint: container.entrypoint,
    env,
    labels: container.labels,
    ...(inputs && Object.keys(inputs.secretEnv).length ? { secretEnv: Object.keys(inputs.secretEnv) } : {}),
    mounts: container.mounts.filter(
      (m) => m.type !== 'tmpfs' || !container.settings?.tmpfs.some((t) => t.mountPath === m.destination),
    ),
    network: { name: network ?? 'molt', ipv4: ip ?? '', ...(ip ? { mac: macForIPv4(ip) } : {}) },
    stopTimeoutSeconds: ctx.op.plan.previous?.spec.stopTimeoutSeconds ?? 10,
    ...(container.user ? { user: container.user } : {}),
    ...(container.settings ? { settings: container.settings } : {}),
  });
  if (inputs) await putFiles(ctx.engine, id, inputs.files, container.user, ctx.signal);
  ctx.facts.recreatedOldId = id;
  return id;
}

async function currentOldId(ctx: StepContext): Promise<string> {
  return ctx.facts.recreatedOldId ?? requireOld(ctx).container.id;
}

/** Every step by name. */
export const STEPS: Record<StepName, Step> = {
  EnsureImage: ensureImage,
  PrepareResources: prepareResources,
  StopOld: stopOld,
  RenameOld: renameOld,
  CreateNew: createNew,
  StartNew: startNew,
  AwaitReady: awaitNewReady,
  MonitorNew: monitorNew,
  FetchScripts: fetchScripts,
  SnapshotVolumes: snapshotVolumes,
  PreUpgrade: preUpgrade,
  PostUpgrade: postUpgrade,
  RemoveOld: removeOld,
  PruneSnapshots: pruneSnapshots,
  RemoveNew: removeNew,
  RestoreVolumes: restoreVolumes,
  RestoreOldName: restoreOldName,
  StartOld: startOld,
  AwaitOld: awaitOld,
};
