/**
 * The engine-neutral data model of molt: what an app is (its spec), what the engine shows of
 * it (observations) and what molt asks the engine to create (container specs).
 * Pure types, no I/O. Manifest parsing and validation live in `manifest.ts`.
 */

/** A probe that decides whether a container is ready. Exactly one of exec/tcp/http is set. */
export interface ProbeSpec {
  exec?: string[];
  tcp?: { port: number };
  http?: { port: number; path: string };
  /** Seconds between two attempts. @default 1 */
  periodSeconds: number;
  /** Failed attempts tolerated before the container counts as failed. @default 30 */
  failureThreshold: number;
  /** Seconds one attempt may take. @default 5 */
  timeoutSeconds: number;
}

import type { BindMountSpec, ContainerSettings, NamedVolumeSpec, RuntimeSettings } from './settings.ts';

/** A named engine volume mounted into the app's container. */
export type VolumeSpec = NamedVolumeSpec;
/** One entry of `volumes`: a named volume or a bind mount of a host path. */
export type VolumeEntry = NamedVolumeSpec | BindMountSpec;

/** The network the app joins; `ipv4`, once assigned, is kept across upgrades. */
export interface NetworkSpec {
  name: string;
  ipv4?: string;
  /** Subnet used when molt creates the network. @default 10.90.0.0/24 */
  subnet?: string;
}

/** How upgrades of this app may proceed (seed 001). */
export interface UpgradeConfig {
  /** Allow a lower version (a downgrade). @default false */
  forceUpgrade: boolean;
  /** Allow the package namespace to change. @default false */
  allowNamespaceSwitch: boolean;
}

/** How upgrade scripts, the startup gate and volume snapshots behave (issue: upgrade scripts). */
export interface UpgradeSettings {
  /** Absolute path of the pre-upgrade script in the NEW image; overrides its `dev.molt.pre-upgrade` label. */
  preUpgrade?: string;
  /** Absolute path of the post-upgrade script in the NEW image; overrides `dev.molt.post-upgrade`. */
  postUpgrade?: string;
  /** Absolute path of a text file in the NEW image shown before upgrading; overrides `dev.molt.upgrade-notification`. */
  notification?: string;
  /** Seconds a script may run. @default 600 */
  scriptTimeoutSeconds: number;
  /** Largest pre-upgrade script copied into the old container. @default 10 MiB */
  scriptMaxBytes: number;
  /** Startup-probe failures tolerated while upgrading. @default 10 × the probe's failureThreshold */
  startupFailureThreshold?: number;
  /** Seconds after ready in which a failing healthcheck or an exit still rolls the upgrade back. */
  monitorSeconds?: number;
  /** What a failing post-upgrade script leads to. @default rollback */
  onFailure: 'rollback' | 'retry';
  /** Attempts of the post-upgrade script when onFailure is retry. @default 3 */
  postUpgradeAttempts: number;
  /** Snapshot every named volume before the pre-upgrade script; restore them on rollback. @default true */
  snapshotVolumes: boolean;
  /** Snapshot sets kept per app. @default 3 */
  keepSnapshots: number;
}

/** The desired state of one single-container app, as validated from a manifest. */
export interface AppSpec extends ContainerSettings {
  /** `namespace/name`: the package identity (seed 001). */
  package: string;
  version: string;
  image: string;
  command?: string[];
  entrypoint?: string[];
  env: Record<string, string>;
  volumes: VolumeEntry[];
  network: NetworkSpec;
  probes: { startup?: ProbeSpec };
  /** Seconds a new container must stay running when it has no startup probe. @default 2 */
  minReadySeconds: number;
  /** Seconds between SIGTERM and SIGKILL when stopping. @default 10 */
  stopTimeoutSeconds: number;
  upgradeConfig: UpgradeConfig;
  upgrade: UpgradeSettings;
}

/** An App document: metadata plus spec. */
export interface AppManifest {
  apiVersion: 'molt.dev/v1alpha1';
  kind: 'App';
  metadata: { name: string; labels: Record<string, string> };
  spec: AppSpec;
}

/** A mount as the engine reports it on a container. */
export interface MountObservation {
  type: 'volume' | 'bind' | 'tmpfs';
  /** Volume name for `volume`, host path for `bind`. */
  source: string;
  destination: string;
  readOnly: boolean;
}

/** What the engine shows of one container. */
export interface ContainerObservation {
  id: string;
  name: string;
  image: string;
  imageId: string;
  running: boolean;
  status: string;
  exitCode: number;
  oomKilled: boolean;
  cmd: string[] | undefined;
  entrypoint: string[] | undefined;
  env: string[];
  labels: Record<string, string>;
  mounts: MountObservation[];
  /** Network name → IPv4 address (empty while stopped on some engines). */
  networks: Record<string, string>;
  /** Static IPv4 per network as requested at create time. */
  requestedIps: Record<string, string>;
  /** The user it runs as (Config.User); undefined: the image's. */
  user?: string;
  /** Ports, restart policy, limits, working dir… as the engine reports them (issue 13). */
  settings?: RuntimeSettings;
}

/** What the engine shows of one image. */
export interface ImageObservation {
  id: string;
  cmd: string[] | undefined;
  entrypoint: string[] | undefined;
  labels: Record<string, string>;
  volumes: string[];
}

/** Everything molt asks the engine for when it creates a container. */
export interface ContainerSpec {
  name: string;
  image: string;
  /** Undefined: the image's default applies. */
  cmd?: string[];
  entrypoint?: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  mounts: MountObservation[];
  /** Undefined: no network at all (helper containers). `mac` undefined: the engine picks one. */
  network?: { name: string; ipv4: string; mac?: string };
  /** User to run as; undefined: the image's. */
  user?: string;
  stopTimeoutSeconds: number;
  /** Ports, restart policy, limits, working dir… (issue 13); undefined: the engine's defaults. */
  settings?: RuntimeSettings;
  /** Names of env entries that hold secrets: the engine driver never reports their values back. */
  secretEnv?: string[];
  /** Files copied into the container after create, before start (secrets), owned by `user`. */
  files?: ContainerFile[];
}

/** A file molt puts into a container before its first start. */
export interface ContainerFile {
  path: string;
  content: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

/** Labels molt puts on every container it creates. */
export const LABEL = {
  app: 'dev.molt.app',
  version: 'dev.molt.version',
  upgrade: 'dev.molt.upgrade-id',
  managed: 'dev.molt.managed',
  /** On helper containers: what they are for. */
  helper: 'dev.molt.helper',
  /** A keyed digest of the envFrom and secret file contents the container was created with. */
  inputs: 'dev.molt.inputs-digest',
} as const;

/** Image labels by which a version declares its upgrade scripts. */
export const SCRIPT_LABEL = {
  preUpgrade: 'dev.molt.pre-upgrade',
  postUpgrade: 'dev.molt.post-upgrade',
  notification: 'dev.molt.upgrade-notification',
} as const;
