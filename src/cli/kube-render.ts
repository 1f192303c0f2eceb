/** What `get` and `history` print in cluster mode, from the custom resources (pure). */
import type { AppStatus, HistoryEntry } from '../operator/crd/status.ts';
import type { MoltObject } from './kube-connect.ts';
import { age, table } from './output.ts';

function statusOf(app: MoltObject): AppStatus {
  return (app.status ?? {}) as AppStatus;
}

/** Ready members over all members, e.g. "2/3". */
function readyMembers(s: AppStatus): string {
  const members = s.members ?? (s.roles ?? []).flatMap((r) => r.members ?? []);
  return `${members.filter((m) => m.ready).length}/${members.length}`;
}

/** The columns of `get apps` on a cluster (the member count replaces the local IP column). */
export function kubeAppHeader(wide: boolean): string[] {
  return ['NAME', 'VERSION', 'PHASE', 'READY', 'AGE', ...(wide ? ['IMAGE/RELEASE', 'LAST UPGRADE', 'MESSAGE'] : [])];
}

/** One App's row of `get apps`. */
export function kubeAppRow(app: MoltObject, wide: boolean, now = Date.now()): string[] {
  const s = statusOf(app);
  const spec = app.spec ?? {};
  const u = s.lastUpgrade;
  return [
    app.metadata.name ?? '',
    s.installedVersion ?? '<none>',
    s.phase ?? '<pending>',
    readyMembers(s),
    age(app.metadata.creationTimestamp, now),
    ...(wide
      ? [
          typeof spec['release'] === 'string'
            ? `release ${s.release ?? spec['release']}`
            : (s.image ?? String(spec['image'] ?? '<none>')),
          u ? `${u.from ?? '∅'}→${u.to} ${u.outcome}` : '<none>',
          s.message ?? '',
        ]
      : []),
  ];
}

/** `get apps` / `get app NAME` as a table. */
export function renderKubeApps(apps: MoltObject[], wide: boolean, now = Date.now()): string {
  return table(
    kubeAppHeader(wide),
    apps.map((a) => kubeAppRow(a, wide, now)),
  );
}

/** `molt history NAME` from status.history, numbered from the oldest kept, like local history. */
export function renderKubeHistory(entries: HistoryEntry[]): string {
  if (entries.length === 0) return 'No history recorded yet.\n';
  return (
    entries
      .map((e, i) => {
        const head = `#${i + 1} ${e.kind} ${e.from ?? '∅'} → ${e.to}   ${e.result}   ${e.startedAt ?? e.finishedAt}`;
        const images = e.toImage ? `\n   image: ${e.fromImage ? `${e.fromImage} → ` : ''}${e.toImage}` : '';
        return `${head}${images}${e.cause ? `\n   cause: ${e.cause}` : ''}`;
      })
      .join('\n') + '\n'
  );
}

/** `get releases`: the catalog, with the Apps (of the namespaces read) that run or name each. */
export function renderKubeReleases(releases: MoltObject[], apps: MoltObject[]): string {
  return table(
    ['NAME', 'PACKAGE', 'VERSION', 'UPGRADABLE', 'ROLES', 'USED BY'],
    releases.map((r) => {
      const name = r.metadata.name ?? '';
      const spec = r.spec ?? {};
      const users = apps
        .filter((a) => a.spec?.['release'] === name || statusOf(a).release === name)
        .map((a) => `${a.metadata.namespace}/${a.metadata.name}`);
      const roles = Array.isArray(spec['roles'])
        ? (spec['roles'] as { name: string }[]).map((x) => x.name).join(',')
        : '';
      return [
        name,
        String(spec['package'] ?? ''),
        String(spec['version'] ?? ''),
        spec['upgradable'] === undefined ? '<unset>' : String(spec['upgradable']),
        roles,
        users.join(',') || '<none>',
      ];
    }),
  );
}

/**
 * The version (inline apps) or release `molt rollback` goes back to: the `from` of the last
 * operation that succeeded, with its image and (inline apps, operators that record it) its
 * whole spec; undefined when there is none (only the install).
 */
export function rollbackTarget(
  history: HistoryEntry[] | undefined,
  installed: string | undefined,
): { to: string; image?: string; spec?: Record<string, unknown> } | undefined {
  const last = [...(history ?? [])].reverse().find((e) => e.result === 'Succeeded' && e.kind !== 'install');
  if (!last?.from || last.to !== installed) return undefined;
  return {
    to: last.from,
    ...(last.fromImage ? { image: last.fromImage } : {}),
    ...(last.fromSpec ? { spec: last.fromSpec } : {}),
  };
}
