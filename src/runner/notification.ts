/**
 * Reading a new version's upgrade notification for `plan`, without acting on the app: a
 * helper container of the new image is created (never started), read and removed.
 */
import { LABEL, type AppManifest } from '../core/model.ts';
import { declaredScripts } from '../core/scripts.ts';
import type { ContainerEngine } from '../engines/types.ts';
import { readFirstEntry } from './tar.ts';

/** The notification text the new image declares, or undefined (none, or the image is not here). */
export async function readUpgradeNotification(
  engine: ContainerEngine,
  manifest: AppManifest,
): Promise<string | undefined> {
  const image = await engine.inspectImage(manifest.spec.image);
  if (!image) return undefined;
  const path = declaredScripts(manifest, image.labels).notification;
  if (!path) return undefined;
  const id = await engine.createContainer({
    name: `${manifest.metadata.name}.molt-notification-${process.pid}`,
    image: manifest.spec.image,
    entrypoint: ['/molt-helper-never-started'],
    env: {},
    labels: { [LABEL.managed]: 'true', [LABEL.helper]: 'notification' },
    mounts: [],
    stopTimeoutSeconds: 1,
  });
  try {
    const entry = await readFirstEntry(await engine.getArchive(id, path), 64 * 1024);
    return entry.content?.toString('utf8');
  } catch {
    return undefined;
  } finally {
    await engine.removeContainer(id).catch(() => undefined);
  }
}
