/**
 * The steps' side of seed 002 on any container: the new container is made from the old one's
 * journaled definition with the process settings core/inherit.ts decides; a vanished old
 * container is made again from the same definition, exactly.
 */
import { ImageUnavailableError } from '../core/errors.ts';
import { macForIPv4 } from '../core/container-spec.ts';
import { INHERIT_LABEL, inheritProcess, requestOf, type DefinitionChanges, type InheritPlan } from '../core/inherit.ts';
import { LABEL, type ContainerSpec } from '../core/model.ts';
import { appName, manifestOf, requireIp, type StepContext } from './step-context.ts';

function planOf(ctx: StepContext): InheritPlan {
  const inherit = ctx.op.plan.inherit;
  if (!inherit) throw new Error(`internal: operation ${ctx.op.id} does not inherit a definition`);
  return inherit;
}

/** Creates the new container from the old definition; returns its id. */
export async function createInherited(ctx: StepContext, spec: ContainerSpec): Promise<string> {
  const inherit = planOf(ctx);
  const manifest = manifestOf(ctx);
  const newImage = await ctx.engine.imageProcess(manifest.spec.image);
  if (!newImage) throw new ImageUnavailableError(manifest.spec.image, 'the image disappeared after EnsureImage');
  const process = inheritProcess(
    inherit.definition.process,
    inherit.oldImage,
    newImage,
    requestOf(manifest, ctx.op.plan.previous, inherit.standalone, spec),
  );
  // molt's bookkeeping labels of the manifest's container (e.g. the env-file digest) come along.
  const bookkeeping = inherit.standalone
    ? {}
    : Object.fromEntries(Object.entries(spec.labels).filter(([k]) => k.startsWith('dev.molt.')));
  process.labels = {
    ...process.labels,
    ...bookkeeping,
    [LABEL.app]: appName(ctx),
    [LABEL.version]: manifest.spec.version,
    [LABEL.upgrade]: String(ctx.op.id),
    [INHERIT_LABEL]: 'definition',
    ...(inherit.standalone ? {} : { [LABEL.managed]: 'true' }),
  };
  return ctx.engine.createFromDefinition(appName(ctx), inherit.definition, process, changesFor(ctx, inherit, spec));
}

/** An app's manifest owns its network address and volumes; a standalone upgrade changes neither. */
function changesFor(ctx: StepContext, inherit: InheritPlan, spec: ContainerSpec): DefinitionChanges {
  if (inherit.standalone) return {};
  const manifest = manifestOf(ctx);
  const net = manifest.spec.network.name;
  const ip = requireIp(ctx);
  const old = inherit.definition.networks[net];
  const mac = old?.ipv4 === ip && old.mac ? old.mac : macForIPv4(ip);
  return {
    networks: { [net]: { ipv4: ip, mac } },
    mounts: spec.mounts,
    ...(spec.settings ? { settings: spec.settings } : {}),
    ...(spec.secretEnv ? { secretEnv: spec.secretEnv } : {}),
  };
}

/** Makes the old container again from its journaled definition, exactly as it was. */
export async function recreateFromDefinition(ctx: StepContext): Promise<string> {
  const { definition } = planOf(ctx);
  return ctx.engine.createFromDefinition(appName(ctx), definition, {
    ...definition.process,
    image: definition.imageId || definition.image,
  });
}

/**
 * PrepareResources of a standalone upgrade: the old container's networks and volumes exist
 * already; its addresses are reserved so molt never hands them to an app of its own.
 */
export function prepareInherited(ctx: StepContext): string {
  const { definition } = planOf(ctx);
  const attached = Object.entries(definition.networks);
  for (const [net, a] of attached) if (a.ipv4) ctx.store.reserveIp(net, appName(ctx), [a.ipv4]);
  ctx.facts.ip ??= attached.find(([, a]) => a.ipv4)?.[1].ipv4 ?? '0.0.0.0';
  const shown = attached.map(
    ([net, a]) => `${net} ${a.ipv4 ?? '(no address)'}${a.mac ? ` ${a.mac}` : ''}${a.static ? '' : ' (pinned)'}`,
  );
  return `kept: ${shown.join(', ') || 'no networks'}`;
}

/**
 * Pins every address and MAC of the stopped old container (disconnect, connect) so that if
 * the upgrade is rolled back, the very same container starts again with both: Podman gives a
 * container whose MAC was not set explicitly a new one at every start (measured on 4.3).
 */
export async function pinOldNetworks(ctx: StepContext, containerId: string): Promise<string[]> {
  const { definition } = planOf(ctx);
  const raw = definition.raw as { NetworkSettings?: { Networks?: Record<string, { Aliases?: string[] | null }> } };
  const pinned: string[] = [];
  for (const [network, a] of Object.entries(definition.networks)) {
    if (!a.ipv4 || !a.mac) continue;
    const aliases = (raw.NetworkSettings?.Networks?.[network]?.Aliases ?? []).filter(
      (x) => !definition.id.startsWith(x),
    );
    await ctx.engine.pinNetwork(containerId, network, { ipv4: a.ipv4, mac: a.mac, aliases });
    pinned.push(`${network} ${a.ipv4} ${a.mac}`);
  }
  return pinned;
}
