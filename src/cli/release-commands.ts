/** CLI actions for Releases and the apps that run them (seed 003). */
import type { ReleaseAppManifest, ReleaseManifest } from '../core/release-schema.ts';
import type { DocumentOf } from '../core/manifest.ts';
import { checkReleaseChange, decideReleaseApp, memberName, rolloutOrder } from '../core/release.ts';
import { ReleaseStore, type ReleaseAppRecord } from '../store/release-store.ts';
import type { Store } from '../store/store.ts';
import {
  applyRelease,
  applyReleaseApp,
  deleteReleaseApp,
  installedOf,
  pauseReleaseApp,
  requireRelease,
  rollbackReleaseApp,
  type ReleaseAppResult,
} from '../runner/release-service.ts';
import type { RunDeps } from '../runner/run-operation.ts';
import { openStore, say, type GlobalOptions } from './context.ts';
import { age, outputFormat, structured, table, type OutputFormat } from './output.ts';

/** Applies a Release document (catalog) and reports it; returns the exit code. */
export function applyReleaseDocument(store: Store, release: ReleaseManifest): number {
  const result = applyRelease({ store }, release);
  process.stdout.write(`release/${release.metadata.name} ${result}\n`);
  return 0;
}

/** Applies an App that runs a Release and reports the outcome; returns the exit code. */
export async function applyReleaseAppDocument(deps: RunDeps, manifest: ReleaseAppManifest): Promise<number> {
  return report(manifest.metadata.name, await applyReleaseApp(deps, manifest));
}

/** `plan` for a Release or a release app: prints what apply would do; true when changes are pending. */
export function planReleaseDocument(store: Store, doc: DocumentOf<'Release' | 'ReleaseApp'>): boolean {
  const rs = store.releases;
  if (doc.kind === 'Release') {
    const current = rs.getRelease(doc.manifest.metadata.name);
    checkReleaseChange(current, doc.manifest, rs.appsUsing(doc.manifest.metadata.name));
    const same = current && JSON.stringify(current) === JSON.stringify(doc.manifest);
    process.stdout.write(
      `release/${doc.manifest.metadata.name}: ${same ? 'no changes' : current ? 'would be updated' : 'would be added to the catalog'}\n`,
    );
    return !same;
  }
  const app = doc.manifest;
  const target = requireRelease(rs, app.spec.release);
  const record = rs.getApp(app.metadata.name);
  const d = decideReleaseApp(app, record && installedOf(store, rs, record), target);
  process.stdout.write(
    `app/${app.metadata.name}: ${d.action === 'none' ? 'no changes' : d.action} ${d.action === 'rollout' ? `${d.from.metadata.name} → ${d.to.metadata.name}` : app.spec.release}\n`,
  );
  if (d.action === 'rollout' || d.action === 'resume') {
    for (const r of app.spec.roles) {
      const order = rolloutOrder(r.members, app.spec.upgradeStrategy.partition).map((o) =>
        memberName(app.metadata.name, r.name, o),
      );
      process.stdout.write(`  role ${r.name} (in parallel with the other roles): ${order.join(' → ')}\n`);
    }
  }
  return d.action !== 'none';
}

/** `molt rollback NAME` for a release app. */
export async function rollbackReleaseAppCommand(deps: RunDeps, name: string): Promise<number> {
  return report(name, await rollbackReleaseApp(deps, name));
}

/** `molt pause NAME` / `molt resume NAME` (resume re-applies the stored manifest). */
export async function pauseCommand(
  name: string,
  paused: boolean,
  opts: GlobalOptions,
  deps?: RunDeps,
): Promise<number> {
  if (paused || !deps) {
    const store = openStore(opts);
    try {
      pauseReleaseApp({ store }, name, paused);
    } finally {
      store.close();
    }
    process.stdout.write(
      `app/${name} ${paused ? 'pause requested: the rollout stops before its next member' : 'unpaused'}\n`,
    );
    return 0;
  }
  pauseReleaseApp(deps, name, false);
  const record = deps.store.releases.getApp(name)!;
  return report(name, await applyReleaseApp(deps, record.manifest));
}

/** `molt delete NAME` for a release app. */
export async function deleteReleaseAppCommand(deps: RunDeps, name: string, volumes: boolean): Promise<number> {
  const removed = await deleteReleaseApp(deps, name, volumes);
  process.stdout.write(
    `app/${name} deleted (${removed.length} member resources removed)${volumes ? '' : '; volumes kept (use --volumes to remove them)'}\n`,
  );
  return 0;
}

function report(name: string, r: ReleaseAppResult): number {
  const verb: Record<ReleaseAppResult['outcome'], string> = {
    Unchanged: 'unchanged',
    Succeeded: r.decision === 'install' ? 'created' : r.decision === 'scale' ? 'scaled' : 'upgraded',
    RolledBack: 'rolled back',
    Paused: 'paused',
    Partitioned: 'partially upgraded (partition)',
    Failed: 'failed',
  };
  const ok =
    r.outcome === 'Unchanged' ||
    r.outcome === 'Succeeded' ||
    r.outcome === 'Partitioned' ||
    (r.outcome === 'RolledBack' && r.decision === 'rollback');
  (ok ? process.stdout : process.stderr).write(`app/${name} ${verb[r.outcome]}\n`);
  if (r.error) say(`error[${r.error.code}]: ${r.error.message}`);
  if (r.error?.hint) say(`hint: ${r.error.hint}`);
  return ok ? 0 : 1;
}

/** `molt get releases`. */
export async function getReleasesCommand(opts: GlobalOptions & { output: string }): Promise<number> {
  const format = await outputFormat(opts.output);
  const store = openStore(opts);
  try {
    const rs = store.releases;
    const releases = rs.listReleases();
    if (format === 'json' || format === 'yaml') {
      process.stdout.write(structured({ apiVersion: 'molt.dev/v1alpha1', kind: 'List', items: releases }, format));
      return 0;
    }
    process.stdout.write(
      table(
        ['NAME', 'PACKAGE', 'VERSION', 'UPGRADABLE', 'ROLES', 'USED BY'],
        releases.map((r) => [
          r.metadata.name,
          r.spec.package,
          r.spec.version,
          r.spec.upgradable === undefined ? '<unset>' : String(r.spec.upgradable),
          r.spec.roles.map((x) => x.name).join(','),
          rs.appsUsing(r.metadata.name).join(',') || '<none>',
        ]),
      ),
    );
    return 0;
  } finally {
    store.close();
  }
}

/** The object `get app X -o json` prints for a release app. */
export function releaseAppObject(app: ReleaseAppRecord): Record<string, unknown> {
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name: app.name, labels: app.manifest.metadata.labels, creationTimestamp: app.createdAt },
    spec: app.manifest.spec,
    status: app.status,
  };
}

/** Table rows of release apps for `get apps` (same columns as inline apps). */
export function releaseAppRows(apps: ReleaseAppRecord[], rs: ReleaseStore): string[][] {
  return apps.map((a) => {
    const members = a.status.roles.reduce((n, r) => n + r.members.length, 0);
    return [
      a.name,
      rs.getRelease(a.status.release ?? a.manifest.spec.release)?.spec.version ?? '<none>',
      a.status.phase,
      `<${members} members>`,
      age(a.createdAt),
    ];
  });
}

/** `molt history NAME` for a release app: its rollouts with their events. */
export function releaseHistory(rs: ReleaseStore, name: string, format: OutputFormat): string {
  const rollouts = rs.listRollouts(name);
  if (format === 'json' || format === 'yaml') return structured(rollouts, format);
  return (
    rollouts
      .map((r) =>
        [
          `#${r.id} ${r.kind} ${r.fromRelease ?? '∅'} → ${r.toRelease}   ${r.outcome ?? 'InProgress'}   ${r.startedAt}`,
          ...r.events.map((e) => `   ${e.at.slice(11, 23)}  ${e.event.padEnd(18)} ${e.message}`),
        ].join('\n'),
      )
      .join('\n\n') + '\n'
  );
}
