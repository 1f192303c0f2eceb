/**
 * DockerEngine: the ContainerEngine driver for engines that serve the Docker Engine API
 * v1.41 on a unix socket — Podman 4.3+ (its compat API) and Docker. It only acts and
 * observes. Idempotence: starting a running container, stopping a stopped one, removing a
 * missing container or volume, renaming to the current name and creating an existing
 * network with the same subnet all succeed without change.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { EngineError, ImageUnavailableError } from '../../core/errors.ts';
import type { ContainerObservation, ContainerSpec, ImageObservation } from '../../core/model.ts';
import { LABEL } from '../../core/model.ts';
import type { ContainerEngine, ExecOptions, ExecResult, NetworkObservation } from '../types.ts';
import {
  addressesOn,
  bridgeName,
  createBody,
  progressError,
  pullParams,
  REQUESTED_IPV4_LABEL,
  toContainerObservation,
  libpodNetworkObservation,
  toImageObservation,
  toNetworkObservation,
} from './convert.ts';
import type { ContainerJson, ContainerListJson, ImageJson, LibpodNetworkJson, NetworkJson } from './convert.ts';
import { cloneBody, imageProcess, toDefinition, type RawDefinition, type RawImage } from './clone.ts';
import type { ContainerDefinition, DefinitionChanges, InheritedProcess, ProcessSettings } from '../../core/inherit.ts';
import { connectionError, DockerHttpClient, filters, type RequestOptions, type TcpEndpoint } from './http.ts';
import { demultiplex, TextCollector } from './stream.ts';
import type { ContainerState } from '../../core/observed.ts';
import {
  fromCompatList,
  fromInspect,
  fromLibpodList,
  type CompatListJson,
  type InspectStateJson,
  type LibpodListJson,
} from './state-convert.ts';
import { credentialsFromFiles, defaultAuthFiles } from '../registry/auth.ts';
import { parseReference } from '../registry/reference.ts';

/** How to reach the engine. */
export interface DockerEngineOptions {
  /** Path of the engine's unix socket (with `tcp`: only the name shown in messages). */
  socketPath?: string;
  /** The engine's TCP endpoint instead of a socket; TLS when `tcp.tls` is set. */
  tcp?: TcpEndpoint;
  /** Idle timeout of ordinary calls in milliseconds. @default 30000 */
  idleTimeoutMs?: number;
  /** Registry auth files (dockerconfigjson) for pulls, first match wins. @default Podman's and Docker's usual files (registry/auth.ts) */
  authFiles?: string[];
}

/** Options of removeContainer. */
export interface RemoveOptions {
  /** Kill a running container first. @default true */
  force?: boolean;
  /**
   * SIGKILL a running container instead of stopping it gracefully (SIGTERM, then its stop
   * timeout): for a container whose state is thrown away. @default false
   */
  kill?: boolean;
}

const PULL_IDLE_MS = 10 * 60_000;
const SLOW_CALL_MS = 10 * 60_000;

/** A container engine reached through the Docker Engine API (Podman or Docker). */
export class DockerEngine implements ContainerEngine {
  readonly socketPath: string;
  #description: string;
  /** Learnt by `ping`: the engine is Podman, whose own API has cheaper calls for some answers. */
  #podman = false;
  readonly #http: DockerHttpClient;
  readonly #authFiles: string[] | undefined;

  constructor(options: DockerEngineOptions) {
    this.#authFiles = options.authFiles;
    const httpOptions = {
      socketPath: options.socketPath,
      tcp: options.tcp,
      ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    };
    this.#http = new DockerHttpClient(httpOptions);
    this.socketPath = this.#http.socketPath;
    this.#description = `engine at ${this.socketPath}`;
  }

  /** E.g. "podman 4.3.1 at /run/podman/podman.sock" once `ping` has run. */
  get description(): string {
    return this.#description;
  }

  /**
   * Checks that the engine answers within `timeoutMs` of silence; also learns its name and
   * version from the answer's headers. (A bound of silence, not an AbortSignal.timeout: the
   * answer is a few bytes, and the signal would load Node's AbortController in every command.)
   */
  async ping(timeoutMs = 5_000): Promise<void> {
    const { headers } = await this.#http.request('GET', '/_ping', { idleTimeoutMs: timeoutMs, operation: 'ping' });
    const podman = headers['libpod-api-version'];
    const server = /^Docker\/(\S+)/.exec(String(headers.server ?? ''))?.[1];
    const name = typeof podman === 'string' ? `podman ${podman}` : server ? `docker ${server}` : 'engine';
    this.#podman = typeof podman === 'string';
    this.#description = `${name} at ${this.socketPath}`;
  }

  async inspectImage(ref: string): Promise<ImageObservation | undefined> {
    const { status, value } = await this.#http.json<ImageJson>('GET', `/images/${encodeURI(ref)}/json`, {
      accept: [404],
      operation: `inspect image ${ref}`,
    });
    return status === 404 || !value ? undefined : toImageObservation(value);
  }

  /**
   * Builds `tag` from a build context (a tar with a Containerfile at its root). An error
   * reported inside the build's output stream is an EngineError (not retryable).
   */
  async buildImage(tag: string, context: Readable, signal?: AbortSignal): Promise<void> {
    const operation = `build image ${tag}`;
    const res = await this.#http.stream('POST', '/build', {
      query: { t: tag, dockerfile: 'Containerfile', rm: true, forcerm: true },
      body: context,
      contentType: 'application/x-tar',
      signal,
      idleTimeoutMs: SLOW_CALL_MS,
      operation,
    });
    const failure = await this.#streamError(res, signal);
    if (failure !== undefined) throw new EngineError(operation, res.statusCode ?? 200, failure);
  }

  /** Pulls `ref`; an error inside the progress stream, or no image afterwards, is ImageUnavailableError. */
  async pullImage(ref: string, signal?: AbortSignal): Promise<void> {
    let res;
    try {
      const headers = registryAuthHeader(ref, this.#authFiles ?? defaultAuthFiles());
      res = await this.#http.stream('POST', '/images/create', {
        query: pullParams(ref),
        signal,
        idleTimeoutMs: PULL_IDLE_MS,
        operation: `pull ${ref}`,
        headers,
      });
    } catch (error) {
      if (error instanceof EngineError) throw new ImageUnavailableError(ref, error.message);
      throw error;
    }
    const failure = await this.#streamError(res, signal);
    if (failure !== undefined) throw new ImageUnavailableError(ref, failure);
    if (!(await this.inspectImage(ref)))
      throw new ImageUnavailableError(ref, 'the pull ended without error but the engine does not have the image');
  }

  async inspectNetwork(name: string): Promise<NetworkObservation | undefined> {
    const operation = `inspect network ${name}`;
    // Podman's compatible inspect lists every container on the network (~0.6 ms of CPU per
    // container, every member upgrade); its own API answers from the network's config alone.
    if (this.#podman) {
      const { status, value } = await this.#http.json<LibpodNetworkJson>('GET', `/networks/${enc(name)}/json`, {
        accept: [404],
        operation,
        libpod: true,
      });
      return status === 404 || !value ? undefined : libpodNetworkObservation(value);
    }
    const { status, value } = await this.#http.json<NetworkJson>('GET', `/networks/${enc(name)}`, {
      accept: [404],
      operation,
    });
    return status === 404 || !value ? undefined : toNetworkObservation(value);
  }

  /** Creates a bridge network with `subnet` and a bridge named by `bridgeName(name)`; fine if it already exists with that subnet. */
  async createNetwork(name: string, subnet: string): Promise<void> {
    const json = {
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
      Options: { 'com.docker.network.bridge.name': bridgeName(name) },
      Labels: { [LABEL.managed]: 'true' },
    };
    try {
      await this.#http.request('POST', '/networks/create', { json, operation: `create network ${name}` });
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      const existing = await this.inspectNetwork(name);
      if (!existing?.subnets.includes(subnet)) throw error;
    }
  }

  /** IPv4 addresses held (running) or requested (any state) by the containers on `network`. */
  async addressesInUse(network: string): Promise<Set<string>> {
    const { value } = await this.#http.json<ContainerListJson[]>('GET', '/containers/json', {
      query: { all: true, filters: filters({ network: [network] }) },
      operation: `list containers on network ${network}`,
    });
    const onNetwork = addressesOn(network, value ?? []);
    // Podman 4.3 shows no IP for stopped containers: add those requested at create time (recorded as a label).
    const { value: labelled } = await this.#http.json<ContainerListJson[]>('GET', '/containers/json', {
      query: { all: true, filters: filters({ label: [REQUESTED_IPV4_LABEL + network] }) },
      operation: `list containers that requested an address on ${network}`,
    });
    for (const ip of addressesOn(network, labelled ?? [])) onNetwork.add(ip);
    return onNetwork;
  }

  async volumeExists(name: string): Promise<boolean> {
    const { status } = await this.#http.request('GET', `/volumes/${enc(name)}`, {
      accept: [404],
      operation: `inspect volume ${name}`,
    });
    return status !== 404;
  }

  /** The volume's host directory (`Mountpoint`), or undefined when there is no such volume. */
  async volumeMountpoint(name: string): Promise<string | undefined> {
    const { status, value } = await this.#http.json<{ Mountpoint?: string }>('GET', `/volumes/${enc(name)}`, {
      accept: [404],
      operation: `inspect volume ${name}`,
    });
    return status === 404 ? undefined : (value?.Mountpoint ?? '');
  }

  /** Creates a local volume; an existing one is left as it is (labels included). */
  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    await this.#http.request('POST', '/volumes/create', {
      json: { Name: name, Driver: 'local', Labels: labels },
      operation: `create volume ${name}`,
    });
  }

  /** Removes a volume; a missing one is fine, one in use is an EngineError (409). */
  async removeVolume(name: string): Promise<void> {
    await this.#http.request('DELETE', `/volumes/${enc(name)}`, { accept: [404], operation: `remove volume ${name}` });
  }

  /** Creates (does not start) a container; a missing image is ImageUnavailableError. */
  async createContainer(spec: ContainerSpec): Promise<string> {
    try {
      const { value } = await this.#http.json<{ Id: string }>('POST', '/containers/create', {
        query: { name: spec.name },
        json: createBody(spec),
        operation: `create container ${spec.name}`,
      });
      if (!value?.Id)
        throw new EngineError(`create container ${spec.name}`, 201, 'the engine returned no container ID');
      return value.Id;
    } catch (error) {
      if (error instanceof EngineError && error.status === 404 && /image/i.test(error.message)) {
        throw new ImageUnavailableError(spec.image, error.message);
      }
      throw error;
    }
  }

  async inspectContainer(idOrName: string): Promise<ContainerObservation | undefined> {
    const raw = await this.#inspectRaw(idOrName);
    return raw ? toContainerObservation(raw) : undefined;
  }

  /** Containers carrying all the given labels (`key=value` or `key`), running or not. */
  async listContainers(labels: string[]): Promise<ContainerObservation[]> {
    const { value } = await this.#http.json<ContainerListJson[]>('GET', '/containers/json', {
      query: { all: true, filters: filters({ label: labels }) },
      operation: `list containers ${labels.join(',')}`,
    });
    const result: ContainerObservation[] = [];
    for (const entry of value ?? []) {
      const observed = await this.inspectContainer(entry.Id);
      if (observed) result.push(observed);
    }
    return result;
  }

  /** One list call: Podman's own list carries exit codes, times, health and PIDs; Docker's the exit code in its text. */
  async listContainerStates(labels: string[]): Promise<ContainerState[]> {
    const query = { all: true, filters: filters({ label: labels }) };
    const operation = `list container states ${labels.join(',')}`;
    if (this.#podman) {
      const { value } = await this.#http.json<LibpodListJson[]>('GET', '/containers/json', {
        query,
        operation,
        libpod: true,
      });
      return (value ?? []).map(fromLibpodList);
    }
    const { value } = await this.#http.json<CompatListJson[]>('GET', '/containers/json', { query, operation });
    return (value ?? []).map(fromCompatList);
  }

  async inspectState(idOrName: string): Promise<ContainerState | undefined> {
    const { status, value } = await this.#http.json<InspectStateJson>('GET', `/containers/${enc(idOrName)}/json`, {
      accept: [404],
      operation: `inspect container ${idOrName}`,
    });
    return status === 404 || !value ? undefined : fromInspect(value);
  }

  async startContainer(id: string): Promise<void> {
    await this.#http.request('POST', `/containers/${enc(id)}/start`, {
      accept: [304],
      idleTimeoutMs: SLOW_CALL_MS,
      operation: `start container ${id}`,
    });
  }

  async pauseContainer(id: string): Promise<void> {
    await this.#http.request('POST', `/containers/${enc(id)}/pause`, { operation: `pause container ${id}` });
  }

  async unpauseContainer(id: string): Promise<void> {
    await this.#http.request('POST', `/containers/${enc(id)}/unpause`, { operation: `unpause container ${id}` });
  }

  /** Stops with SIGTERM, then SIGKILL after `timeoutSeconds`; a stopped container is fine. */
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.#http.request('POST', `/containers/${enc(id)}/stop`, {
      query: { t: timeoutSeconds },
      accept: [304],
      idleTimeoutMs: (timeoutSeconds + 60) * 1000,
      operation: `stop container ${id}`,
    });
  }

  /** Renames a container; renaming to the name it already has is fine. */
  async renameContainer(id: string, newName: string): Promise<void> {
    try {
      await this.#http.request('POST', `/containers/${enc(id)}/rename`, {
        query: { name: newName },
        operation: `rename container ${id} to ${newName}`,
      });
    } catch (error) {
      if (error instanceof EngineError && (await this.inspectContainer(id))?.name === newName) return;
      throw error;
    }
  }

  /** Removes a container, keeping its volumes (named and anonymous); a missing container is fine. */
  async removeContainer(id: string, options: RemoveOptions = {}): Promise<void> {
    if (options.kill) await this.#kill(id);
    await this.#http.request('DELETE', `/containers/${enc(id)}`, {
      query: { force: options.force ?? true, v: false },
      accept: [404],
      idleTimeoutMs: SLOW_CALL_MS,
      operation: `remove container ${id}`,
    });
  }

  /** SIGKILLs a running container; one that is gone or not running (404, 409, Podman's 500) is fine. */
  async #kill(id: string): Promise<void> {
    try {
      await this.#http.request('POST', `/containers/${enc(id)}/kill`, {
        query: { signal: 'SIGKILL' },
        accept: [404, 409],
        operation: `kill container ${id}`,
      });
    } catch (error) {
      if (error instanceof EngineError && !(await this.inspectContainer(id))?.running) return;
      throw error;
    }
  }

  /** Runs `cmd` in a running container without a TTY, streaming its output; waits for its exit code. */
  async exec(id: string, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const { signal } = options;
    const { value } = await this.#http.json<{ Id: string }>('POST', `/containers/${enc(id)}/exec`, {
      json: {
        AttachStdin: false,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        Cmd: cmd,
        User: options.user,
        Env: options.env,
      },
      signal,
      operation: `exec in container ${id}`,
    });
    if (!value?.Id) throw new EngineError(`exec in container ${id}`, 201, 'the engine returned no exec ID');
    const execId = value.Id;
    const output = new TextCollector(options.onOutput);
    await this.#readOutput(
      'POST',
      `/exec/${enc(execId)}/start`,
      { json: { Detach: false, Tty: false }, signal, idleTimeoutMs: 0, operation: `start exec in container ${id}` },
      output,
      options.onOutput !== undefined,
    );
    output.finish();
    const exitCode = await this.#execExitCode(execId, signal);
    return { exitCode, stdout: output.text('stdout'), stderr: output.text('stderr') };
  }

  /** The exit code of a finished exec; waits briefly while the engine still reports it running. */
  async #execExitCode(execId: string, signal: AbortSignal | undefined): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const { value } = await this.#http.json<{ Running?: boolean; ExitCode?: number | null }>(
        'GET',
        `/exec/${enc(execId)}/json`,
        { signal, operation: 'inspect exec' },
      );
      if (value && !value.Running && typeof value.ExitCode === 'number') return value.ExitCode;
      if (attempt >= 100)
        throw new EngineError('inspect exec', 200, `exec ${execId} finished its output but reports no exit code`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * Decodes an answer of multiplexed output (exec, logs) into `output`: streamed while someone
   * watches it `live` (a script's output is printed as it comes), else read whole — over a unix
   * socket that needs no node:http (unix-http.ts), which a probe or a hook would otherwise load.
   */
  async #readOutput(
    method: string,
    path: string,
    options: RequestOptions,
    output: TextCollector,
    live: boolean,
  ): Promise<void> {
    const body = live
      ? await this.#http.stream(method, path, options)
      : [(await this.#http.request(method, path, options)).body];
    try {
      await demultiplex(body, (stream, data) => output.add(stream, data));
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw connectionError(this.socketPath, error);
    }
  }

  /** The last `tailLines` lines the container printed, stdout and stderr interleaved. */
  async logs(id: string, tailLines: number): Promise<string> {
    const output = new TextCollector();
    await this.#readOutput(
      'GET',
      `/containers/${enc(id)}/logs`,
      { query: { stdout: true, stderr: true, tail: tailLines }, operation: `logs of container ${id}` },
      output,
      false,
    );
    output.finish();
    return output.interleaved();
  }

  /**
   * Extracts a tar archive into the container at `path` (a directory). Works on stopped
   * containers too. Podman creates a missing `path`; Docker answers 404.
   */
  async putArchive(id: string, path: string, tar: Readable | Buffer, signal?: AbortSignal): Promise<void> {
    await this.#http.request('PUT', `/containers/${enc(id)}/archive`, {
      query: { path },
      body: tar,
      contentType: 'application/x-tar',
      signal,
      idleTimeoutMs: SLOW_CALL_MS,
      operation: `copy into container ${id}:${path}`,
    });
  }

  /** A tar stream of `path` inside the container (the entry names start with its base name). */
  async getArchive(id: string, path: string, signal?: AbortSignal): Promise<Readable> {
    return this.#http.stream('GET', `/containers/${enc(id)}/archive`, {
      query: { path },
      signal,
      idleTimeoutMs: SLOW_CALL_MS,
      operation: `copy from container ${id}:${path}`,
    });
  }

  async inspectDefinition(idOrName: string): Promise<ContainerDefinition | undefined> {
    const raw = await this.#inspectRaw(idOrName);
    return raw ? toDefinition(raw as unknown as RawDefinition) : undefined;
  }

  async imageProcess(ref: string): Promise<ProcessSettings | undefined> {
    const { status, value } = await this.#http.json<RawImage>('GET', `/images/${encodeURI(ref)}/json`, {
      accept: [404],
      operation: `inspect image ${ref}`,
    });
    return status === 404 || !value ? undefined : imageProcess(value);
  }

  async pinNetwork(
    id: string,
    network: string,
    address: { ipv4: string; mac: string; aliases?: string[] },
  ): Promise<void> {
    const operation = `pin ${address.ipv4} ${address.mac} of container ${id} on network ${network}`;
    const attached = await this.#inspectRaw(id);
    if (attached?.NetworkSettings?.Networks?.[network]) {
      await this.#http.request('POST', `/networks/${enc(network)}/disconnect`, {
        json: { Container: id, Force: true },
        operation,
      });
    }
    const endpoint = {
      IPAMConfig: { IPv4Address: address.ipv4 },
      MacAddress: address.mac,
      ...(address.aliases?.length ? { Aliases: address.aliases } : {}),
    };
    await this.#http.request('POST', `/networks/${enc(network)}/connect`, {
      json: { Container: id, EndpointConfig: endpoint },
      operation,
    });
  }

  /** Creates (does not start) a container from an old one's definition (see clone.ts). */
  async createFromDefinition(
    name: string,
    definition: ContainerDefinition,
    process: InheritedProcess,
    changes?: DefinitionChanges,
  ): Promise<string> {
    const operation = `create container ${name}`;
    try {
      const { value } = await this.#http.json<{ Id: string }>('POST', '/containers/create', {
        query: { name },
        json: cloneBody(definition, process, changes),
        operation,
      });
      if (!value?.Id) throw new EngineError(operation, 201, 'the engine returned no container ID');
      return value.Id;
    } catch (error) {
      if (error instanceof EngineError && error.status === 404 && /image/i.test(error.message))
        throw new ImageUnavailableError(process.image, error.message);
      throw error;
    }
  }

  /** Reads a JSON-lines progress stream (pull, build) to its end; the first error it reports, if any. */
  async #streamError(res: IncomingMessage, signal: AbortSignal | undefined): Promise<string | undefined> {
    let failure: string | undefined;
    let partial = '';
    try {
      res.setEncoding('utf8');
      for await (const chunk of res) {
        const lines = (partial + (chunk as string)).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) failure ??= progressError(line);
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw connectionError(this.socketPath, error);
    }
    return failure ?? progressError(partial);
  }

  async #inspectRaw(idOrName: string): Promise<ContainerJson | undefined> {
    const { status, value } = await this.#http.json<ContainerJson>('GET', `/containers/${enc(idOrName)}/json`, {
      accept: [404],
      operation: `inspect container ${idOrName}`,
    });
    return status === 404 ? undefined : value;
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

/**
 * The X-Registry-Auth header of a pull (base64url JSON, as the docker CLI sends it) with the
 * credentials the auth files hold for the image's registry; none when they hold none.
 */
export function registryAuthHeader(ref: string, authFiles: string[]): Record<string, string> {
  let registry: string;
  let repository: string;
  try {
    ({ registry, repository } = parseReference(ref));
  } catch (e) {
    throw new ImageUnavailableError(ref, (e as Error).message);
  }
  let creds;
  try {
    creds = credentialsFromFiles(authFiles, registry, repository);
  } catch (e) {
    throw new ImageUnavailableError(ref, `cannot read registry credentials: ${(e as Error).message}`);
  }
  if (!creds) return {};
  const auth = { username: creds.username, password: creds.password, serveraddress: registry };
  // base64url WITH padding, as Go's base64.URLEncoding (Docker's and Podman's decoder) wants it.
  return {
    'X-Registry-Auth': Buffer.from(JSON.stringify(auth)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_'),
  };
}
