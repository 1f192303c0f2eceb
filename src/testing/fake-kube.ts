/**
 * An in-memory Kubernetes API for the contract suite: the REST verbs ResourceApi sends (get,
 * list by label selector, create, server-side apply, merge and JSON patch — status
 * subresource, `test` preconditions —, replace, delete with a UID precondition and
 * finalizers), a StatefulSet controller (OnDelete: it only recreates missing pods), a kubelet
 * that gives a pod its state at once from the image (running and Ready, or CrashLoopBackOff,
 * or ErrImagePull for an unknown image) and exec in pods for the commands the operator runs
 * (tar in and out, mkdir, cat, its `sh -c` script, check and hook wrappers).
 *
 * Time does not pass on its own: `tick()` runs the controllers once. Fidelity is what the
 * operator observes; the real cluster (test/k8s, test/e2e/k8s-*) stays the proof.
 */
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import type { ExecResult } from '../engines/types.ts';
import { KubeApiError } from '../engines/kubernetes/errors.ts';
import type { PodExecOptions, PodExecResult } from '../engines/kubernetes/exec.ts';
import type { KubeClient, KubeRequest } from '../engines/kubernetes/client.ts';
import { ResourceApi } from '../engines/kubernetes/resources.ts';
import type { KubeObject, Pod, StatefulSet } from '../engines/kubernetes/types.ts';
import { tarOf } from '../runner/tar.ts';
import { filesOf, programOf, type FakeFile, type FakeImage, type Program } from './fake-engine.ts';

type Obj = KubeObject & { spec?: unknown; status?: Record<string, unknown>; [k: string]: unknown };

/** The fake API server with its controllers. */
export class FakeKube {
  readonly images = new Map<string, FakeImage>();
  readonly programs = new Map<string, Program>();
  /** The API as the operator uses it. */
  readonly api: ResourceApi;
  /** The client (its exec goes to the fake pods). */
  readonly client: KubeClient;
  private readonly objects = new Map<string, Obj>();
  private readonly podFs = new Map<string, Map<string, FakeFile>>();
  private seq = 0;

  constructor() {
    const client = {
      server: 'https://fake-kube',
      namespace: 'default',
      config: undefined,
      request: <T>(req: KubeRequest): Promise<T> => Promise.resolve().then(() => this.handle(req) as T),
      podExec: (namespace: string, pod: string, container: string, argv: string[], opts: PodExecOptions) =>
        this.exec(namespace, pod, argv, opts),
    };
    this.client = client as unknown as KubeClient;
    this.api = new ResourceApi(this.client);
  }

  /** Every object of a resource (plural) in a namespace. */
  list(plural: string, namespace?: string): Obj[] {
    return [...this.objects.entries()]
      .filter(
        ([k]) =>
          k.startsWith(`${plural}|${namespace ?? ''}|`) || (namespace === undefined && k.startsWith(`${plural}|`)),
      )
      .map(([, o]) => structuredClone(o));
  }

  /** Runs the StatefulSet controller and the kubelet once. */
  tick(): void {
    for (const sts of this.list('statefulsets') as StatefulSet[]) {
      if (sts.metadata.deletionTimestamp || !sts.spec) continue;
      const ns = sts.metadata.namespace ?? 'default';
      for (let i = 0; i < (sts.spec.replicas ?? 0); i++) {
        const name = `${sts.metadata.name}-${i}`;
        if (this.objects.has(key('pods', ns, name))) continue;
        const t = sts.spec.template;
        this.create('pods', ns, {
          metadata: {
            name,
            namespace: ns,
            labels: { ...t.metadata.labels, 'apps.kubernetes.io/pod-index': String(i) },
            annotations: { ...t.metadata.annotations },
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: 'StatefulSet',
                name: sts.metadata.name ?? '',
                uid: sts.metadata.uid ?? '',
                controller: true,
              },
            ],
          },
          spec: structuredClone(t.spec),
        });
      }
    }
    for (const pod of this.list('pods') as Pod[]) if (!pod.status?.phase) this.start(pod);
  }

  /** The kubelet: the pod's state from its image, at once. */
  private start(pod: Pod): void {
    const c = pod.spec?.containers[0];
    const image = c ? this.images.get(c.image) : undefined;
    const now = new Date().toISOString();
    const ns = pod.metadata.namespace ?? 'default';
    let cs: Record<string, unknown>;
    let ready = false;
    if (!image)
      cs = { state: { waiting: { reason: 'ErrImagePull', message: `${c?.image}: not found` } }, restartCount: 0 };
    else if (image.onStart === 'exit')
      cs = {
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off restarting failed container' } },
        lastState: { terminated: { exitCode: 1, reason: 'Error' } },
        restartCount: 1,
      };
    else {
      cs = { state: { running: { startedAt: now } }, restartCount: 0 };
      ready = true;
    }
    const fs = filesOf(image);
    if (ready) fs.set('/tmp/ready', { content: Buffer.from('ready\n'), mode: 0o644 });
    this.podFs.set(`${ns}/${pod.metadata.name}`, fs);
    const status = {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now }],
      containerStatuses: [{ name: c?.name ?? 'main', ready, image: c?.image ?? '', ...cs }],
    };
    const o = this.objects.get(key('pods', ns, pod.metadata.name ?? ''));
    if (o) o.status = status;
  }

  private handle(req: KubeRequest): unknown {
    const { plural, namespace, name, sub } = parsePath(req.path);
    const op = req.operation ?? `${req.method} ${req.path}`;
    const k = key(plural, namespace, name ?? '');
    const existing = this.objects.get(k);
    const fail = (status: number, reason: string, detail: string): never => {
      throw new KubeApiError(op, status, reason, detail);
    };
    if (req.method === 'GET' && name === undefined) {
      return {
        metadata: {},
        items: this.list(plural, namespace).filter((o) =>
          matches(o.metadata.labels ?? {}, String(req.query?.['labelSelector'] ?? '')),
        ),
      };
    }
    if (req.method === 'POST') return this.create(plural, namespace, req.body as Obj, fail);
    if (!name) return fail(405, 'MethodNotAllowed', 'a collection');
    if (req.method === 'GET')
      return existing ? structuredClone(existing) : fail(404, 'NotFound', `${plural} "${name}" not found`);
    if (req.method === 'PATCH' && req.contentType === 'application/apply-patch+yaml' && !existing)
      return this.create(plural, namespace, req.body as Obj, fail);
    if (!existing) return fail(404, 'NotFound', `${plural} "${name}" not found`);
    if (req.method === 'DELETE')
      return this.remove(k, existing, req.body as { preconditions?: { uid?: string } }, fail);
    const before = JSON.stringify(existing.spec);
    let next: Obj;
    if (req.method === 'PUT') next = { ...structuredClone(req.body as Obj), status: existing.status };
    else if (req.contentType === 'application/apply-patch+yaml') {
      const body = req.body as Obj;
      next = {
        ...existing,
        ...structuredClone(body),
        metadata: {
          ...existing.metadata,
          labels: { ...existing.metadata.labels, ...body.metadata.labels },
          annotations: { ...existing.metadata.annotations, ...body.metadata.annotations },
        },
        status: existing.status,
      };
    } else if (req.contentType === 'application/json-patch+json') next = jsonPatch(existing, req.body as Op[], fail);
    else if (sub === 'status')
      next = {
        ...existing,
        status: mergePatch(existing.status ?? {}, (req.body as { status?: unknown }).status) as Record<string, unknown>,
      };
    else next = mergePatch(existing, req.body) as Obj;
    next.metadata = {
      ...next.metadata,
      name,
      uid: existing.metadata.uid,
      namespace: existing.metadata.namespace,
      creationTimestamp: existing.metadata.creationTimestamp,
      resourceVersion: String(++this.seq),
      generation: (existing.metadata.generation ?? 1) + (JSON.stringify(next.spec) !== before ? 1 : 0),
    };
    if (next.metadata.deletionTimestamp && !(next.metadata.finalizers ?? []).length) {
      this.objects.delete(k);
      return structuredClone(next);
    }
    this.objects.set(k, next);
    return structuredClone(next);
  }

  private create(
    plural: string,
    namespace: string | undefined,
    body: Obj,
    fail?: (s: number, r: string, d: string) => never,
  ): Obj {
    const name = body.metadata.name ?? `${body.metadata.generateName ?? 'obj-'}${(++this.seq).toString(36)}`;
    const k = key(plural, namespace, name);
    if (this.objects.has(k)) {
      if (fail) fail(409, 'AlreadyExists', `${plural} "${name}" already exists`);
      throw new Error(`internal: ${k} exists`);
    }
    const obj: Obj = {
      ...structuredClone(body),
      metadata: {
        ...structuredClone(body.metadata),
        name,
        ...(namespace ? { namespace } : {}),
        uid: `uid-${++this.seq}`,
        resourceVersion: String(this.seq),
        generation: 1,
        creationTimestamp: new Date().toISOString(),
      },
    };
    this.objects.set(k, obj);
    return structuredClone(obj);
  }

  private remove(
    k: string,
    o: Obj,
    body: { preconditions?: { uid?: string } } | undefined,
    fail: (s: number, r: string, d: string) => never,
  ): unknown {
    if (body?.preconditions?.uid && body.preconditions.uid !== o.metadata.uid)
      fail(409, 'Conflict', 'the UID precondition failed');
    if ((o.metadata.finalizers ?? []).length) {
      o.metadata.deletionTimestamp ??= new Date().toISOString();
      return structuredClone(o);
    }
    this.objects.delete(k);
    if (k.startsWith('pods|')) this.podFs.delete(k.split('|').slice(1).join('/'));
    return { kind: 'Status', status: 'Success' };
  }

  /** Runs argv in a pod: the commands the operator's scripts, checks and hooks use. */
  private async exec(namespace: string, pod: string, argv: string[], opts: PodExecOptions): Promise<PodExecResult> {
    const fs = this.podFs.get(`${namespace}/${pod}`);
    if (!fs) throw new KubeApiError(`exec in ${pod}`, 404, 'NotFound', `pod ${pod} not found`);
    const result = (r: ExecResult | { exitCode: number; stdout: Buffer; stderr: string }): PodExecResult => ({
      exitCode: r.exitCode,
      stdout: Buffer.isBuffer(r.stdout) ? r.stdout : Buffer.from(r.stdout),
      stderr: r.stderr,
      truncated: false,
    });
    const [bin, ...args] = argv;
    if (bin === 'mkdir') return result({ exitCode: 0, stdout: '', stderr: '' });
    if (bin === 'cat') {
      const f = fs.get(args[0] ?? '');
      return result(
        f ? { exitCode: 0, stdout: f.content, stderr: '' } : { exitCode: 1, stdout: '', stderr: 'no such file' },
      );
    }
    if (bin === 'tar' && args[0] === '-cf') {
      const path = join(args[3] ?? '/', args[4] ?? '');
      const f = fs.get(path);
      if (!f)
        return result({ exitCode: 2, stdout: '', stderr: `tar: ${path}: Cannot stat: No such file or directory` });
      return result({
        exitCode: 0,
        stdout: await tarOf([{ name: args[4] ?? '', content: f.content, mode: f.mode }]),
        stderr: '',
      });
    }
    if (bin === 'tar' && args[0] === '-xf') {
      await untar(opts.stdin ?? Buffer.alloc(0), args[3] ?? '/', fs);
      return result({ exitCode: 0, stdout: '', stderr: '' });
    }
    if (bin === 'sh' && args[0] === '-c') {
      const [, , kind, dir = '', ...command] = args;
      if (kind === 'molt-check') {
        const code = fs.get(`${dir}/exit-code`);
        return result({ exitCode: 0, stdout: code ? code.content.toString().trim() : 'none', stderr: '' });
      }
      const run = await this.run(fs, command);
      if (kind === 'molt-script') {
        for (const [file, text] of [
          ['started', '1'],
          ['stdout', run.stdout],
          ['stderr', run.stderr],
          ['exit-code', String(run.exitCode)],
        ] as const)
          fs.set(`${dir}/${file}`, { content: Buffer.from(text), mode: 0o644 });
      }
      return result(run);
    }
    return result(await this.run(fs, argv));
  }

  private async run(fs: Map<string, FakeFile>, argv: string[]): Promise<ExecResult> {
    const program = programOf(fs.get(argv[0] ?? ''), this.programs);
    if (!program) return { exitCode: 127, stdout: '', stderr: `${argv[0]}: not found` };
    return program({ args: argv.slice(1) });
  }
}

function key(plural: string, namespace: string | undefined, name: string): string {
  return `${plural}|${namespace ?? ''}|${name}`;
}

/** `/api/v1/namespaces/ns/pods/name/status` → its parts. */
function parsePath(path: string): { plural: string; namespace?: string; name?: string; sub?: string } {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  const namespaced = rest[0] === 'namespaces';
  const [plural = '', name, sub] = namespaced ? rest.slice(2) : rest;
  return {
    plural,
    ...(namespaced ? { namespace: rest[1] } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(sub !== undefined ? { sub } : {}),
  };
}

/** Equality (`a=b`) and existence (`a`) requirements, comma-separated. */
function matches(labels: Record<string, string>, selector: string): boolean {
  return selector
    .split(',')
    .filter(Boolean)
    .every((req) => {
      const [k = '', v] = req.split('=');
      return v === undefined ? k in labels : labels[k] === v;
    });
}

/** RFC 7386: objects merge, null removes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

type Op = { op: 'add' | 'remove' | 'replace' | 'test'; path: string; value?: unknown };

/** RFC 6902 for the ops molt sends (add, remove, replace, test). */
function jsonPatch(obj: Obj, ops: Op[], fail: (s: number, r: string, d: string) => never): Obj {
  const doc = structuredClone(obj) as unknown as Record<string, unknown>;
  for (const o of ops) {
    const segs = o.path
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = segs.pop() ?? '';
    let parent: unknown = doc;
    for (const s of segs) parent = (parent as Record<string, unknown>)?.[s];
    if (parent === undefined || parent === null) fail(422, 'Invalid', `path ${o.path} does not exist`);
    const p = parent as Record<string, unknown> & unknown[];
    if (o.op === 'test') {
      if (JSON.stringify(p[last as never]) !== JSON.stringify(o.value))
        fail(422, 'Invalid', `test of ${o.path} failed`);
    } else if (o.op === 'remove') {
      if (Array.isArray(p)) p.splice(Number(last), 1);
      else delete p[last];
    } else if (Array.isArray(p) && o.op === 'add') {
      if (last === '-') p.push(o.value);
      else p.splice(Number(last), 0, o.value);
    } else (p as Record<string, unknown>)[last] = structuredClone(o.value);
  }
  return doc as unknown as Obj;
}

async function untar(archive: Buffer, dir: string, fs: Map<string, FakeFile>): Promise<void> {
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (d: unknown) => chunks.push(d as Buffer));
      stream.on('end', () => {
        if (header.type === 'file')
          fs.set(join(dir, header.name), { content: Buffer.concat(chunks), mode: header.mode ?? 0o644 });
        next();
      });
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  Readable.from([archive]).pipe(ex);
  await done;
}
