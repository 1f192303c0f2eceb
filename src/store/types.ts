/** The records the store keeps. */
import type { AppManifest, ContainerObservation, ImageObservation } from '../core/model.ts';
import type { DeclaredScripts } from '../core/scripts.ts';
import type { InheritPlan } from '../core/inherit.ts';
import type { SnapshotEntry } from './snapshots.ts';
import type { AppStatus } from '../core/status.ts';
import type { OperationKind, OperationState } from '../core/upgrade-machine.ts';

export type { AppStatus };

/** One app: what is installed and what it shows. */
export interface AppRecord {
  name: string;
  /** The manifest of the installed version; undefined while the first install has not succeeded. */
  manifest: AppManifest | undefined;
  status: AppStatus;
  createdAt: string;
  updatedAt: string;
}

/** Everything decided before an operation starts; fixed for its whole life. */
export interface OperationPlan {
  /** The manifest being applied. */
  manifest: AppManifest;
  /** The manifest installed before (upgrades). */
  previous?: AppManifest;
  /** The old instance as observed when the operation was planned (upgrades). */
  old?: { container: ContainerObservation; image: ImageObservation | undefined; wasRunning: boolean };
  /** `apply`; `rollback` when the user asked to go back; `revert` when a release rollout undoes a member. */
  trigger: 'apply' | 'rollback' | 'revert';
  /** Set when the old container's whole definition is inherited (seed 002 on any container, adopted apps). */
  inherit?: InheritPlan;
  /** The IP the app had, kept when its old container is gone. */
  ip?: string;
  warnings: string[];
  /** `molt rollback`: the exact image the target version ran before (`repo@digest` or an image ID), run instead of its tag. */
  pinnedImage?: string;
}

/** What an operation learned while running, journaled with its state. */
export interface OperationFacts {
  ip?: string;
  newContainerId?: string;
  /** Set only when the old container vanished and the rollback had to recreate it. */
  recreatedOldId?: string;
  /** The digest of the image this operation runs (a registry digest, else the image ID) and a reference that runs exactly it. */
  image?: { digest: string; ref: string };
  /** The scripts the new version declares (FetchScripts). */
  scripts?: DeclaredScripts;
  /** The pre-upgrade script as fetched from the new image, kept under molt's home. */
  preUpgradeFile?: { file: string; bytes: number; mode: number };
  /** The new version's upgrade notification text. */
  notification?: string;
  /** Volume snapshots taken before the pre-upgrade script. */
  snapshots?: SnapshotEntry[];
  /** Where a rollback kept what the volumes held before it restored them. */
  displaced?: string[];
  /** The new container passed its startup probe (AwaitReady): a rollback then stops it gracefully. */
  newReady?: boolean;
}

/** One install / upgrade / rollback attempt. */
export interface OperationRecord {
  id: number;
  app: string;
  kind: OperationKind;
  fromVersion?: string;
  toVersion: string;
  plan: OperationPlan;
  state: OperationState;
  facts: OperationFacts;
  startedAt: string;
  finishedAt?: string;
}

/** One step of an operation, as journaled. */
export interface StepRecord {
  id: number;
  name: string;
  rollback: boolean;
  phase: 'Started' | 'Completed' | 'Failed' | 'Interrupted';
  startedAt: string;
  finishedAt?: string;
  message: string;
  output: string;
}
