/**
 * The status shapes the operator writes on molt's custom resources, as zod schemas: the CRDs'
 * `status` schemas are generated from them (crds.ts), and the TypeScript types below are what
 * the reconcilers build. Conditions follow the Kubernetes convention (type, status, reason,
 * message, lastTransitionTime, observedGeneration).
 */
import * as z from 'zod';
import type { DetailedStatus, TargetCounts } from '../../core/task-progress.ts';

/** One condition, as Kubernetes API conventions define it. */
export const conditionSchema = z.object({
  type: z.string().describe('Ready, Progressing, …'),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().describe('CamelCase: why the condition has this status'),
  message: z.string(),
  lastTransitionTime: z.iso.datetime(),
  observedGeneration: z.number().int().optional(),
});

const upgradeStatus = z.enum(['', 'upgrading', 'upgraded', 'rollingBack', 'rolledBack', 'failed']);

/** One member of a role of a release app (seed 003 shapes, with when molt restarted and upgraded it). */
const roleMemberStatus = z.object({
  name: z.string(),
  ordinal: z.number().int(),
  upgradeStatus: upgradeStatus,
  release: z.string().optional(),
  ready: z.boolean(),
  restartedAt: z.iso.datetime().optional(),
  upgradedAt: z.iso.datetime().optional(),
  revertedAt: z.iso.datetime().optional(),
});

/** One member (a pod) of an app. */
const memberStatus = z.object({
  name: z.string(),
  role: z.string().optional(),
  ordinal: z.number().int(),
  version: z.string().optional(),
  ready: z.boolean(),
  podUpgradeStatus: upgradeStatus.optional(),
});

/** How many finished operations `status.history` keeps (the oldest go first). */
export const HISTORY_LIMIT = 20;

/** One finished operation of an App, as `molt history` shows it. */
const historyEntry = z.object({
  kind: z.enum(['install', 'upgrade', 'rollback']),
  from: z.string().optional().describe('version (inline apps) or release (release apps) before'),
  to: z.string().describe('version or release the operation went to'),
  fromImage: z.string().optional(),
  toImage: z.string().optional(),
  fromSpec: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('inline apps: the whole spec before, what `molt rollback` restores'),
  result: z.enum(['Succeeded', 'RolledBack', 'Aborted', 'Failed', 'Refused']),
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime(),
  cause: z.string().optional().describe('"Code: message" when it did not succeed'),
  generation: z.number().int().optional().describe('the App generation a refusal answered'),
});

/** The status of an App on Kubernetes. */
export const appStatusSchema = z.object({
  observedGeneration: z.number().int().optional(),
  phase: z.enum(['Installing', 'Running', 'Upgrading', 'RollingBack', 'Paused', 'Failed']).optional(),
  installedVersion: z.string().optional(),
  image: z.string().optional(),
  /** The digest the installed version runs (a registry digest, or the image ID of a loaded image). */
  imageDigest: z.string().optional(),
  message: z.string().optional().describe('one line: what the app is doing or why it is not'),
  conditions: z.array(conditionSchema).optional(),
  upgrade: z
    .object({
      from: z.string().optional(),
      to: z.string(),
      state: z.enum(['Upgrading', 'RollingBack']),
      startedAt: z.iso.datetime(),
      cause: z.string().optional(),
    })
    .optional()
    .describe('the upgrade in flight'),
  lastUpgrade: z
    .object({
      from: z.string().optional(),
      to: z.string(),
      outcome: z.enum(['Succeeded', 'RolledBack', 'Aborted']),
      reason: z.string(),
      message: z.string(),
      startedAt: z.iso.datetime().optional(),
      finishedAt: z.iso.datetime().optional(),
    })
    .optional(),
  members: z.array(memberStatus).optional(),
  roles: z
    .array(
      z.object({
        name: z.string(),
        roleUpgradeStatus: upgradeStatus.optional(),
        upgradeStatus: upgradeStatus.optional(),
        members: z.array(roleMemberStatus).optional(),
      }),
    )
    .optional(),
  state: z.enum(['creating', 'configured', 'updating']).optional().describe('release apps: seed 003 cluster state'),
  release: z.string().optional().describe('release apps: the release every member ran when the current rollout began'),
  upgradeInfo: z.object({ isRollingBack: z.boolean(), prevRelease: z.string() }).optional(),
  history: z
    .array(historyEntry)
    .optional()
    .describe(`the last ${HISTORY_LIMIT} finished installs, upgrades and rollbacks, oldest first`),
});

/** The status of a Release. */
export const releaseStatusSchema = z.object({
  observedGeneration: z.number().int().optional(),
  conditions: z.array(conditionSchema).optional(),
});

const detailedStatus = z.object({
  target: z.string(),
  step: z.string(),
  startTime: z.iso.datetime(),
  lastUpdatedAt: z.iso.datetime(),
  phase: z.enum(['Waiting', 'Errored', 'Completed']),
  message: z.string(),
  reason: z.string(),
});

const counts = z.object({
  total: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
  running: z.number().int(),
  pending: z.number().int(),
  notStarted: z.number().int(),
});

/** One target of an UpgradeTask on Kubernetes: an App of the task's namespace. */
const taskTarget = z.object({
  name: z.string(),
  phase: z
    .string()
    .describe('Pending, Running, Upgraded, Skipped, RolledBack, Aborted, Refused, Incomplete, NotStarted'),
  reason: z.string(),
  message: z.string(),
  attempts: z.number().int().optional(),
  fromVersion: z.string().optional(),
  fromImage: z.string().optional(),
  toVersion: z.string().optional(),
  toImage: z.string().optional(),
  fromRelease: z.string().optional().describe('release apps: the release the app ran'),
  toRelease: z.string().optional(),
  startTime: z.iso.datetime().optional(),
  completedTime: z.iso.datetime().optional(),
});

/** One target in an UpgradeTask's status. */
export type TaskTargetStatus = z.infer<typeof taskTarget>;

/** The status of an UpgradeTask (seed 004). */
export const upgradeTaskStatusSchema = z.object({
  observedGeneration: z.number().int().optional(),
  phase: z.enum(['Pending', 'Started', 'Success', 'Error']).optional(),
  startTime: z.iso.datetime().optional(),
  completedTime: z.iso.datetime().optional(),
  retries: z.number().int().optional().describe('failed attempts of targets that were tried again'),
  runs: z.number().int().optional().describe('worker runs: more than 1 when a worker pod was replaced and continued'),
  reason: z.string().optional().describe('CamelCase: why the task ended so'),
  message: z.string().optional(),
  job: z.string().optional().describe('the Job that runs the task'),
  counts: counts.optional(),
  targets: z.array(taskTarget).optional().describe('fixed at the first run: a replaced worker continues them'),
  upgradeDetailedStatuses: z.array(detailedStatus).optional(),
  conditions: z.array(conditionSchema).optional(),
});

/** The status of an UpgradeTask. */
export type UpgradeTaskStatus = z.infer<typeof upgradeTaskStatusSchema>;
/** A condition as written on molt's resources. */
export type KubeCondition = z.infer<typeof conditionSchema>;
/** The status of an App. */
export type AppStatus = z.infer<typeof appStatusSchema>;
/** One entry of an App's `status.history`. */
export type HistoryEntry = z.infer<typeof historyEntry>;
/** The status of one member. */
export type MemberStatus = z.infer<typeof memberStatus>;

// Compile-time check that the task status matches the core's shapes.
const _shapeCheck: [
  (x: DetailedStatus) => z.infer<typeof detailedStatus>,
  (x: TargetCounts) => z.infer<typeof counts>,
] = [(x) => x, (x) => x];
void _shapeCheck;
