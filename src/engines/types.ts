/**
 * The contract between molt's runner and a container engine driver. Drivers only act and
 * observe; they never decide. Every method is safe to call again after a crash (idempotent
 * where the name says "ensure", observation-only where it says "inspect" / "list").
 */
import type { Readable } from 'node:stream';
import type { ContainerObservation, ContainerSpec, ImageObservation } from '../core/model.ts';
import type { ContainerState } from '../core/observed.ts';
import type { ContainerDefinition, DefinitionChanges, InheritedProcess, ProcessSettings } from '../core/inherit.ts';

/** The result of running a command inside a container. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Options for running a command inside a container. */
export interface ExecOptions {
  /** User to run as; undefined runs as the container's own user. */
  user?: string;
  /** Called with each chunk of output as it arrives. */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: string) => void;
  /** Aborts waiting for the command (the command itself may keep running). */
  signal?: AbortSignal;
  /** Environment entries `KEY=value` added for this command. */
  env?: string[];
}

/** A network as the engine reports it. */
export interface NetworkObservation {
  name: string;
  subnets: string[];
}

/** One container engine (Podman or Docker through the Docker Engine API, …). */
export interface ContainerEngine {
  /** A short name for messages, e.g. "podman 4.3.1 at /run/podman/podman.sock". */
  readonly description: string;
  ping(): Promise<void>;

  inspectImage(ref: string): Promise<ImageObservation | undefined>;
  /** Builds an image from a build context (a tar with a Containerfile at its root). */
  buildImage(tag: string, context: Readable): Promise<void>;
  /** Pulls an image; throws ImageUnavailableError when it cannot be had. */
  pullImage(ref: string, signal?: AbortSignal): Promise<void>;

  inspectNetwork(name: string): Promise<NetworkObservation | undefined>;
  createNetwork(name: string, subnet: string): Promise<void>;
  /** IPv4 addresses held by containers (running or not) attached to the network. */
  addressesInUse(network: string): Promise<Set<string>>;

  volumeExists(name: string): Promise<boolean>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  /** The volume's directory on the engine's host; undefined when the volume does not exist. */
  volumeMountpoint(name: string): Promise<string | undefined>;
  removeVolume(name: string): Promise<void>;

  createContainer(spec: ContainerSpec): Promise<string>;
  inspectContainer(idOrName: string): Promise<ContainerObservation | undefined>;
  /** Containers carrying all the given labels (`key=value` or `key`). */
  listContainers(labels: string[]): Promise<ContainerObservation[]>;
  /**
   * The run state of every container carrying all the given labels, in ONE call to the engine
   * (honest status for any number of apps); OOMKilled and restartCount need inspectState.
   */
  listContainerStates(labels: string[]): Promise<ContainerState[]>;
  /** The full run state of one container (inspect), undefined when there is none. */
  inspectState(idOrName: string): Promise<ContainerState | undefined>;
  startContainer(id: string): Promise<void>;
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  /** Freezes every process of a running container (the cgroup freezer); `unpauseContainer` thaws it. */
  pauseContainer(id: string): Promise<void>;
  unpauseContainer(id: string): Promise<void>;
  renameContainer(id: string, newName: string): Promise<void>;
  /** Removes a container (volumes kept); `kill`: SIGKILL it rather than stop it gracefully. */
  removeContainer(id: string, options?: { kill?: boolean }): Promise<void>;
  exec(id: string, cmd: string[], options?: ExecOptions): Promise<ExecResult>;
  /** Extracts a tar archive into the container at `path` (a directory); works on stopped containers. */
  putArchive(id: string, path: string, tar: Readable | Buffer, signal?: AbortSignal): Promise<void>;
  /** A tar stream of `path` in the container (entries named from its base name); volumes included. */
  getArchive(id: string, path: string, signal?: AbortSignal): Promise<Readable>;
  /** The last lines the container printed, stdout and stderr interleaved. */
  logs(id: string, tailLines: number): Promise<string>;

  // Seed 002's upgrade of any container (src/core/inherit.ts).
  /** The container's whole definition as the engine holds it; undefined when there is no such container. */
  inspectDefinition(idOrName: string): Promise<ContainerDefinition | undefined>;
  /** The process settings an image gives its containers; undefined when the image is missing. */
  imageProcess(ref: string): Promise<ProcessSettings | undefined>;
  /**
   * Re-attaches a stopped container to `network` with this address and MAC made static
   * (disconnect, connect), so a restart keeps both: engines give an unpinned MAC anew at
   * every start. Safe to repeat; connects a container that is not attached.
   */
  pinNetwork(id: string, network: string, address: { ipv4: string; mac: string; aliases?: string[] }): Promise<void>;
  /** Creates (does not start) `name` from an old container's definition with the decided process settings and changes. */
  createFromDefinition(
    name: string,
    definition: ContainerDefinition,
    process: InheritedProcess,
    changes?: DefinitionChanges,
  ): Promise<string>;
}
