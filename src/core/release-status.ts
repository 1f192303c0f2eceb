/**
 * The status a release app shows (seed 003's cluster status, in molt's words): state,
 * upgradeInfo, and per-role / per-member upgrade status. Pure helpers to update it.
 */
import type { ErrorRecord } from './errors.ts';
import type { Condition } from './status.ts';

/** KubeDirector's member and role upgrade statuses. */
export type UpgradeStatus = '' | 'upgrading' | 'upgraded' | 'rollingBack' | 'rolledBack' | 'failed';

/** One member as the app shows it. */
export interface MemberStatus {
  name: string;
  ordinal: number;
  upgradeStatus: UpgradeStatus;
  release?: string;
  version?: string;
  ip?: string;
  container?: string;
}

/** One role as the app shows it. */
export interface RoleStatus {
  name: string;
  upgradeStatus: UpgradeStatus;
  members: MemberStatus[];
}

/** What `molt get app X -o json` shows for an app that runs a Release. */
export interface ReleaseAppStatus {
  /** Degraded: observed on `get` (a steady app with a member whose container does not run), never journaled. */
  phase: 'Installing' | 'Running' | 'Upgrading' | 'RollingBack' | 'Paused' | 'Failed' | 'Degraded';
  state: 'creating' | 'configured' | 'updating';
  /** The release every member ran when the current rollout began (when steady: the release). */
  release?: string;
  upgradeInfo?: { isRollingBack: boolean; prevRelease: string };
  roles: RoleStatus[];
  conditions: Condition[];
  lastUpgrade?: {
    rollout: number;
    from?: string;
    to: string;
    outcome: 'InProgress' | 'Succeeded' | 'RolledBack' | 'Paused' | 'Partitioned' | 'Failed';
    error?: ErrorRecord;
    startedAt: string;
    finishedAt?: string;
  };
  /** Set by `molt pause`: the running rollout stops before its next member. */
  pauseRequested?: boolean;
}

/** Returns the status with one member changed (roles recomputed). */
export function withMember(
  status: ReleaseAppStatus,
  role: string,
  ordinal: number,
  change: Partial<MemberStatus>,
): ReleaseAppStatus {
  const roles = status.roles.map((r) => {
    if (r.name !== role) return r;
    const members = r.members.map((m) => (m.ordinal === ordinal ? { ...m, ...change } : m));
    return { ...r, members, upgradeStatus: roleUpgradeStatus(members) };
  });
  return { ...status, roles };
}

/** A role is upgrading/rolling back while any member is; else it shows its members' common result. */
export function roleUpgradeStatus(members: MemberStatus[]): UpgradeStatus {
  const s = new Set(members.map((m) => m.upgradeStatus));
  for (const busy of ['upgrading', 'rollingBack', 'failed'] as const) if (s.has(busy)) return busy;
  if (s.has('rolledBack')) return 'rolledBack';
  if (s.has('upgraded')) return 'upgraded';
  return '';
}

/** The status of a new app: every member listed, nothing done yet. */
export function initialStatus(
  roles: { name: string; members: number }[],
  appName: string,
  memberName: (app: string, role: string, ordinal: number) => string,
): ReleaseAppStatus {
  return {
    phase: 'Installing',
    state: 'creating',
    roles: roles.map((r) => ({
      name: r.name,
      upgradeStatus: '',
      members: Array.from({ length: r.members }, (_, ordinal) => ({
        name: memberName(appName, r.name, ordinal),
        ordinal,
        upgradeStatus: '' as const,
      })),
    })),
    conditions: [],
  };
}
