/**
 * What a task can see of the apps on one endpoint's store: inline apps, the members of
 * release apps (ordinary app records owned by their release app) and release apps
 * themselves, for selection and for the refusal of the targets a task cannot act on.
 */
import { MEMBER_LABEL } from '../core/release.ts';
import type { SelectableApp } from '../core/task.ts';
import type { Store } from '../store/store.ts';

/** Every app of the store, each with its labels and kind. */
export function selectableApps(store: Store): SelectableApp[] {
  const apps: SelectableApp[] = store.listApps().map((a) => {
    const labels = a.manifest?.metadata.labels;
    return { name: a.name, labels, kind: labels?.[MEMBER_LABEL.owner] !== undefined ? 'member' : 'app' };
  });
  for (const r of store.releases.listApps())
    apps.push({ name: r.name, labels: r.manifest.metadata.labels, kind: 'release' });
  return apps;
}

/** Undefined for an inline app (or none); else what the app is, as `decideNonInlineTarget` needs it. */
export function nonInlineKind(
  store: Store,
  app: string,
): { kind: 'member'; owner: string } | { kind: 'release'; release: string } | undefined {
  const release = store.releases.getApp(app);
  if (release) return { kind: 'release', release: release.status.release ?? release.manifest.spec.release };
  const owner = store.getApp(app)?.manifest?.metadata.labels[MEMBER_LABEL.owner];
  return owner === undefined ? undefined : { kind: 'member', owner };
}
