/**
 * Upgrade scripts (seeds 000/001): which scripts a new version declares, the rules they must
 * meet, and the startup-gate contract between molt and image authors. Pure.
 *
 * The startup gate: when the new version has a post-upgrade script, molt writes
 * `/.molt/upgrade` (content: "<old> <new>") into the new container BEFORE starting it, runs
 * the post-upgrade script in it, and writes `/.molt/upgrade-done` when the script succeeded.
 * An image whose normal start must wait for its migration does, in its entrypoint:
 *
 *     if [ -e /.molt/upgrade ]; then
 *       while [ ! -e /.molt/upgrade-done ]; do sleep 0.2; done
 *     fi
 *
 * (the counterpart of the dogu `doguctl state upgrading` loop, without its race: the marker
 * exists before the first instruction of the entrypoint runs).
 */
import { InvalidInputError } from './errors.ts';
import { SCRIPT_LABEL, type AppManifest } from './model.ts';

/** The directory of the startup-gate markers inside the new container. */
export const GATE_DIR = '/.molt';
/** Present while an upgrade's post-upgrade script has not finished. */
export const GATE_UPGRADE = 'upgrade';
/** Written once the post-upgrade script succeeded. */
export const GATE_DONE = 'upgrade-done';

/** The scripts and notification one new version declares, as absolute paths in its image. */
export interface DeclaredScripts {
  preUpgrade?: string;
  postUpgrade?: string;
  notification?: string;
}

/**
 * The scripts of the new version: the manifest's `spec.upgrade` paths win over the new image's
 * labels. Throws InvalidInputError naming the label or field when a path is not absolute.
 */
export function declaredScripts(manifest: AppManifest, imageLabels: Record<string, string>): DeclaredScripts {
  const u = manifest.spec.upgrade;
  const pick = (fromManifest: string | undefined, label: string, field: string): string | undefined => {
    const path = fromManifest ?? imageLabels[label];
    if (path === undefined || path === '') return undefined;
    if (!path.startsWith('/') || path.split('/').includes('..')) {
      const where =
        fromManifest !== undefined ? `spec.upgrade.${field}` : `image label ${label} of ${manifest.spec.image}`;
      throw new InvalidInputError(
        [
          {
            file: where,
            message: `script path "${path}" must be absolute and free of ".." (scripts are copied and run from the same absolute path)`,
          },
        ],
        'Use an absolute path such as /usr/local/bin/pre-upgrade.sh.',
      );
    }
    return path;
  };
  const scripts: DeclaredScripts = {};
  const pre = pick(u.preUpgrade, SCRIPT_LABEL.preUpgrade, 'preUpgrade');
  const post = pick(u.postUpgrade, SCRIPT_LABEL.postUpgrade, 'postUpgrade');
  const note = pick(u.notification, SCRIPT_LABEL.notification, 'notification');
  if (pre) scripts.preUpgrade = pre;
  if (post) scripts.postUpgrade = post;
  if (note) scripts.notification = note;
  return scripts;
}

/**
 * The directory the pre-upgrade script is copied to in the old container: fresh for every
 * attempt (a retried upgrade never meets "file exists", dogu-operator issue #66).
 */
export function preUpgradeDir(operationId: number, attemptStamp: number): string {
  return `/tmp/molt-pre-upgrade-${operationId}-${attemptStamp}`;
}

/** The base name of a script path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The last `n` lines of a script's output, for error messages. */
export function lastLines(text: string, n = 15): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}
