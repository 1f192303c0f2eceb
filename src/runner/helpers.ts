/**
 * Helper containers: short-lived containers molt creates next to an app — from the new image
 * to read its scripts (the local counterpart of the dogu ExecPod). Labelled with the app and
 * the operation so a crash never leaves one behind unnoticed: the next step that cleans up
 * (RemoveOld, RemoveNew) removes every helper of the operation.
 */
import { LABEL, type MountObservation } from '../core/model.ts';
import { appName, type StepContext } from './step-context.ts';

/** What a helper container is made of. */
export interface HelperSpec {
  image: string;
  mounts?: MountObservation[];
  cmd?: string[];
  entrypoint?: string[];
  user?: string;
}

/** Creates a helper (not started), gives its id to `fn`, and always removes it afterwards. */
export async function withHelper<T>(
  ctx: StepContext,
  purpose: string,
  spec: HelperSpec,
  fn: (id: string) => Promise<T>,
): Promise<T> {
  const name = `${appName(ctx)}.molt-${purpose}-${ctx.op.id}`;
  const stale = await ctx.engine.inspectContainer(name);
  if (stale) await ctx.engine.removeContainer(stale.id);
  const id = await ctx.engine.createContainer({
    name,
    image: spec.image,
    cmd: spec.cmd,
    entrypoint: spec.entrypoint ?? ['/molt-helper-never-started'],
    user: spec.user,
    env: {},
    labels: {
      [LABEL.managed]: 'true',
      [LABEL.app]: appName(ctx),
      [LABEL.upgrade]: String(ctx.op.id),
      [LABEL.helper]: purpose,
    },
    mounts: spec.mounts ?? [],
    stopTimeoutSeconds: 1,
  });
  try {
    return await fn(id);
  } finally {
    await ctx.engine
      .removeContainer(id)
      .catch((e: unknown) => ctx.log(`could not remove helper ${name}: ${(e as Error).message}`));
  }
}

/** Removes every helper container of this operation (left by a crash). */
export async function removeHelpers(ctx: StepContext): Promise<void> {
  const found = await ctx.engine.listContainers([
    `${LABEL.upgrade}=${ctx.op.id}`,
    `${LABEL.app}=${appName(ctx)}`,
    LABEL.helper,
  ]);
  for (const c of found) await ctx.engine.removeContainer(c.id);
}
