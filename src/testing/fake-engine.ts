/**
 * An in-memory ContainerEngine (engines/types.ts) for the contract suite: containers with a
 * small file system each, images that say what their container does when started (become
 * ready, or exit), commands run by `exec` as JS programs, tar in and out as the Docker
 * Engine API does it. Volumes are real directories under a temporary root, so the runner's
 * snapshots (GNU tar on the volume's host directory) work as they do on Podman.
 *
 * Fidelity is what the runner observes, not what an engine does: no processes, no network.
 * Used only by tests; the real-engine e2e suite (test/e2e) stays the proof.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { EngineError, ImageUnavailableError } from '../core/errors.ts';
import type { ContainerObservation, ContainerSpec, ImageObservation } from '../core/model.ts';
import type { ContainerState } from '../core/observed.ts';
import type { ContainerEngine, ExecOptions, ExecResult, NetworkObservation } from '../engines/types.ts';
import { tarOf } from '../runner/tar.ts';

/** A file in a fake container or image. */
export interface FakeFile {
  content: Buffer;
  mode: number;
}

/** What a program run by `exec` sees: its arguments (argv after the program). */
export interface ProgramContext {
  args: string[];
}

/** A command a fake container (or pod) can run: a file whose content is `fake:<name>` names it. */
export type Program = (ctx: ProgramContext) => ExecResult | Promise<ExecResult>;

/** An image: its files and labels, and what its container does when it starts. */
export interface FakeImage {
  labels?: Record<string, string>;
  files?: Record<string, string>;
  /** On start: 'ready' writes /tmp/ready (the probe passes); 'exit' ends at once with exit code 1. @default ready */
  onStart?: 'ready' | 'exit';
}

/** One container as the fake keeps it. */
export interface FakeContainer {
  id: string;
  name: string;
  image: string;
  spec: ContainerSpec;
  running: boolean;
  /** Frozen by pauseContainer (still running). */
  paused?: boolean;
  exitCode: number;
  fs: Map<string, FakeFile>;
}

/** The in-memory engine. */
export class FakeEngine implements ContainerEngine {
  readonly description = 'fake engine (in memory)';
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Map<string, FakeImage & { id: string }>();
  readonly programs = new Map<string, Program>();
  /** Every call, for assertions ("createContainer notes-1"). */
  readonly calls: string[] = [];
  private readonly networks = new Map<string, NetworkObservation>();
  private readonly volumes = new Set<string>();
  private readonly root: string;
  private seq = 0;

  /** `root`: where volume directories are made (a test's temporary directory). */
  constructor(root: string) {
    this.root = root;
    mkdirSync(join(root, 'volumes'), { recursive: true });
  }

  /** Adds an image. */
  addImage(ref: string, image: FakeImage = {}): void {
    this.images.set(ref, { ...image, id: `sha256:${(++this.seq).toString(16).padStart(12, '0')}` });
  }

  /** Adds a program `fake:<name>` files run. */
  addProgram(name: string, program: Program): void {
    this.programs.set(name, program);
  }

  /** The host directory of a volume. */
  volumeDir(name: string): string {
    return join(this.root, 'volumes', name);
  }

  /** The container of that name (or id), as the fake keeps it. */
  container(idOrName: string): FakeContainer | undefined {
    return this.containers.get(idOrName) ?? [...this.containers.values()].find((c) => c.name === idOrName);
  }

  async ping(): Promise<void> {}

  async inspectImage(ref: string): Promise<ImageObservation | undefined> {
    const image = this.images.get(ref) ?? this.imageById(ref);
    return (
      image && { id: image.id, cmd: ['/bin/app'], entrypoint: undefined, labels: { ...image.labels }, volumes: [] }
    );
  }

  async buildImage(): Promise<void> {
    throw new EngineError('build', 501, 'the fake engine does not build images');
  }

  /** An image by its ID, with or without "sha256:" (as engines accept it). */
  private imageById(ref: string): (FakeImage & { id: string }) | undefined {
    return [...this.images.values()].find((i) => i.id === ref || i.id === `sha256:${ref}`);
  }

  async pullImage(ref: string): Promise<void> {
    if (!this.images.has(ref) && !this.imageById(ref)) throw new ImageUnavailableError(ref, 'not in the fake registry');
  }

  async inspectNetwork(name: string): Promise<NetworkObservation | undefined> {
    return this.networks.get(name);
  }

  async createNetwork(name: string, subnet: string): Promise<void> {
    this.networks.set(name, { name, subnets: [subnet] });
  }

  async addressesInUse(network: string): Promise<Set<string>> {
    return new Set(
      [...this.containers.values()]
        .filter((c) => c.spec.network?.name === network)
        .map((c) => c.spec.network?.ipv4 ?? ''),
    );
  }

  async volumeExists(name: string): Promise<boolean> {
    return this.volumes.has(name);
  }

  async createVolume(name: string): Promise<void> {
    this.volumes.add(name);
    mkdirSync(this.volumeDir(name), { recursive: true });
  }

  async volumeMountpoint(name: string): Promise<string | undefined> {
    return this.volumes.has(name) ? this.volumeDir(name) : undefined;
  }

  async removeVolume(name: string): Promise<void> {
    this.volumes.delete(name);
    rmSync(this.volumeDir(name), { recursive: true, force: true });
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    this.calls.push(`createContainer ${spec.name}`);
    if (this.container(spec.name))
      throw new EngineError(
        `create container ${spec.name}`,
        409,
        `the container name "${spec.name}" is already in use`,
      );
    const image = this.images.get(spec.image) ?? this.imageById(spec.image);
    if (!image) throw new EngineError(`create container ${spec.name}`, 404, `no such image ${spec.image}`);
    for (const m of spec.mounts)
      if (m.type === 'volume' && !this.volumes.has(m.source)) await this.createVolume(m.source);
    const id = `c${(++this.seq).toString(16).padStart(15, '0')}`;
    const fs = filesOf(image);
    this.containers.set(id, {
      id,
      name: spec.name,
      image: spec.image,
      spec: structuredClone(spec),
      running: false,
      exitCode: 0,
      fs,
    });
    return id;
  }

  async inspectContainer(idOrName: string): Promise<ContainerObservation | undefined> {
    const c = this.container(idOrName);
    return c && observe(c, this.images.get(c.image)?.id ?? c.image);
  }

  async listContainers(labels: string[]): Promise<ContainerObservation[]> {
    const match = (c: FakeContainer) =>
      labels.every((l) => {
        const [k = '', v] = l.split('=');
        return v === undefined ? k in c.spec.labels : c.spec.labels[k] === v;
      });
    return [...this.containers.values()].filter(match).map((c) => observe(c, this.images.get(c.image)?.id ?? c.image));
  }

  async listContainerStates(labels: string[]): Promise<ContainerState[]> {
    const ids = new Set((await this.listContainers(labels)).map((o) => o.id));
    return [...this.containers.values()].filter((c) => ids.has(c.id)).map(stateOf);
  }

  async inspectState(idOrName: string): Promise<ContainerState | undefined> {
    const c = this.container(idOrName);
    return c && { ...stateOf(c), oomKilled: false, restartCount: 0 };
  }

  // Seed 002 on foreign containers is proven on real Podman only (test/e2e/adopt.test.ts).
  async inspectDefinition(): Promise<undefined> {
    throw new EngineError('inspect', 501, 'the fake engine does not model foreign container definitions');
  }

  async imageProcess(): Promise<undefined> {
    throw new EngineError('inspect', 501, 'the fake engine does not model image process settings');
  }

  async pinNetwork(): Promise<void> {
    throw new EngineError('network connect', 501, 'the fake engine does not pin networks');
  }

  async createFromDefinition(): Promise<string> {
    throw new EngineError('create', 501, 'the fake engine does not create from definitions');
  }

  async startContainer(id: string): Promise<void> {
    const c = this.require(id, 'start');
    this.calls.push(`startContainer ${c.name}`);
    if (c.running) return;
    const image = this.images.get(c.image) ?? this.imageById(c.image);
    if (image?.onStart === 'exit') {
      c.running = false;
      c.exitCode = 1;
      return;
    }
    c.running = true;
    c.exitCode = 0;
    c.fs.set('/tmp/ready', { content: Buffer.from('ready\n'), mode: 0o644 });
  }

  async stopContainer(id: string): Promise<void> {
    const c = this.require(id, 'stop');
    this.calls.push(`stopContainer ${c.name}`);
    c.running = false;
    c.fs.delete('/tmp/ready');
  }

  async pauseContainer(id: string): Promise<void> {
    const c = this.require(id, 'pause');
    if (!c.running || c.paused) throw new EngineError(`pause ${c.name}`, 409, 'container is not running');
    this.calls.push(`pauseContainer ${c.name}`);
    c.paused = true;
  }

  async unpauseContainer(id: string): Promise<void> {
    const c = this.require(id, 'unpause');
    if (!c.paused) throw new EngineError(`unpause ${c.name}`, 409, 'container is not paused');
    this.calls.push(`unpauseContainer ${c.name}`);
    c.paused = false;
  }

  async renameContainer(id: string, newName: string): Promise<void> {
    const c = this.require(id, 'rename');
    if (this.container(newName) && this.container(newName) !== c)
      throw new EngineError(`rename ${c.name}`, 409, `name ${newName} is in use`);
    this.calls.push(`renameContainer ${c.name} ${newName}`);
    c.name = newName;
  }

  async removeContainer(id: string): Promise<void> {
    const c = this.container(id);
    if (!c) throw new EngineError(`remove container ${id}`, 404, `no such container ${id}`);
    this.calls.push(`removeContainer ${c.name}`);
    this.containers.delete(c.id);
  }

  async exec(id: string, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const c = this.require(id, 'exec');
    if (!c.running) throw new EngineError(`exec in ${c.name}`, 409, `container ${c.name} is not running`);
    const result = await this.run(c, cmd);
    if (result.stdout) options.onOutput?.('stdout', result.stdout);
    if (result.stderr) options.onOutput?.('stderr', result.stderr);
    return result;
  }

  async putArchive(id: string, path: string, tar: Readable | Buffer): Promise<void> {
    const c = this.require(id, 'put archive into');
    const ex = extract();
    const done = new Promise<void>((resolve, reject) => {
      ex.on('entry', (header, stream, next) => {
        const chunks: Buffer[] = [];
        stream.on('data', (d: unknown) => chunks.push(d as Buffer));
        stream.on('end', () => {
          const name = header.name.replace(/\/$/, '');
          if (header.type === 'file')
            c.fs.set(join(path, name), { content: Buffer.concat(chunks), mode: header.mode ?? 0o644 });
          next();
        });
        stream.resume();
      });
      ex.on('finish', resolve);
      ex.on('error', reject);
    });
    (Buffer.isBuffer(tar) ? Readable.from([tar]) : tar).pipe(ex);
    await done;
  }

  async getArchive(id: string, path: string): Promise<Readable> {
    const c = this.require(id, 'get archive from');
    const file = c.fs.get(path);
    if (!file) throw new EngineError(`get archive ${path}`, 404, `no such file or directory: ${path}`);
    return Readable.from([
      await tarOf([{ name: path.slice(path.lastIndexOf('/') + 1), content: file.content, mode: file.mode }]),
    ]);
  }

  async logs(): Promise<string> {
    return '';
  }

  private require(id: string, what: string): FakeContainer {
    const c = this.container(id);
    if (!c) throw new EngineError(`${what} container ${id}`, 404, `no such container ${id}`);
    return c;
  }

  /** Runs argv in the container: a few builtins, or a `fake:<program>` file. */
  private async run(c: FakeContainer, cmd: string[]): Promise<ExecResult> {
    const [bin = '', ...args] = cmd;
    if (bin === 'true') return ok();
    if (bin === 'false') return { exitCode: 1, stdout: '', stderr: '' };
    if (bin === 'cat') {
      const f = c.fs.get(args[0] ?? '');
      return f
        ? ok(f.content.toString('utf8'))
        : { exitCode: 1, stdout: '', stderr: `cat: ${args[0]}: No such file or directory\n` };
    }
    const program = programOf(c.fs.get(bin), this.programs);
    if (!program) return { exitCode: 127, stdout: '', stderr: `${bin}: not found\n` };
    return program({ args });
  }
}

/** The program a file names (`fake:<name>`), if it is one. */
export function programOf(file: FakeFile | undefined, programs: ReadonlyMap<string, Program>): Program | undefined {
  const name = file?.content.toString('utf8').match(/^fake:(\S+)/)?.[1];
  return name === undefined ? undefined : programs.get(name);
}

/** The files of an image as a fake file system. */
export function filesOf(image: FakeImage | undefined): Map<string, FakeFile> {
  return new Map(
    Object.entries(image?.files ?? {}).map(([p, content]) => [p, { content: Buffer.from(content), mode: 0o755 }]),
  );
}

function ok(stdout = ''): ExecResult {
  return { exitCode: 0, stdout, stderr: '' };
}

function observe(c: FakeContainer, imageId: string): ContainerObservation {
  const net = c.spec.network;
  return {
    id: c.id,
    name: c.name,
    image: c.spec.image,
    imageId,
    running: c.running,
    status: c.paused ? 'paused' : c.running ? 'running' : 'exited',
    exitCode: c.exitCode,
    oomKilled: false,
    cmd: c.spec.cmd,
    entrypoint: c.spec.entrypoint,
    env: Object.entries(c.spec.env).map(([k, v]) => `${k}=${v}`),
    labels: { ...c.spec.labels },
    mounts: c.spec.mounts.map((m) => ({ ...m })),
    networks: net ? { [net.name]: net.ipv4 } : {},
    requestedIps: net ? { [net.name]: net.ipv4 } : {},
  };
}

/** The run state the engine would list for a fake container. */
function stateOf(c: FakeContainer): ContainerState {
  const app = c.spec.labels['dev.molt.app'];
  return {
    id: c.id,
    name: c.name,
    ...(app ? { app } : {}),
    running: c.running,
    status: c.running ? 'running' : 'exited',
    exitCode: c.exitCode,
  };
}
