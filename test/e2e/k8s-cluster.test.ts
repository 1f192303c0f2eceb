// End-to-end checks of the single-node Kubernetes cluster that test/k8s/cluster builds and
// runs offline: a real kubelet running containers from locally built images, PVCs that
// bind, exec, CRDs with status, in-cluster access to the API, and a clean `down`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  type ClusterHandle,
  apply,
  buildAndLoadBusybox,
  releaseClusterLock,
  takeClusterExclusively,
  ensureCluster,
  keepCluster,
  kubectl,
  kubectlResult,
  restartCluster,
  stopCluster,
  stopClusterIfStarted,
  waitFor,
} from '../k8s/cluster.ts';

const RUN = process.env['MOLT_K8S_RUN'] ?? '/var/lib/molt-k8s';
const BRIDGE = process.env['MOLT_K8S_BRIDGE'] ?? 'moltk8s0';
const NS = `e2e-${randomBytes(3).toString('hex')}`;
const IMAGE = 'molt.local/busybox:e2e';

let cluster: ClusterHandle;

before(async () => {
  cluster = await ensureCluster();
  kubectl(['create', 'namespace', NS]);
});

after(() => {
  if (existsSync(`${RUN}/pids/order`)) kubectlResult(['delete', 'namespace', NS, '--wait=false']);
  stopClusterIfStarted();
  releaseClusterLock();
});

function json<T = any>(args: string[]): T {
  return JSON.parse(kubectl([...args, '-o', 'json'])) as T;
}

function podUid(name: string): string | undefined {
  const r = kubectlResult(['-n', NS, 'get', 'pod', name, '-o', 'jsonpath={.metadata.uid}']);
  return r.status === 0 && r.stdout ? r.stdout : undefined;
}

function podReady(name: string): boolean {
  const r = kubectlResult([
    '-n',
    NS,
    'get',
    'pod',
    name,
    '-o',
    'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
  ]);
  return r.status === 0 && r.stdout === 'True';
}

test('the node registers and reports Ready, running the built Kubernetes version', () => {
  const nodes = json<{ items: any[] }>(['get', 'nodes']).items;
  assert.equal(nodes.length, 1);
  const ready = nodes[0].status.conditions.find((c: any) => c.type === 'Ready');
  assert.equal(ready?.status, 'True', JSON.stringify(nodes[0].status.conditions));
  assert.match(nodes[0].status.nodeInfo.kubeletVersion, /^v1\.\d+\.\d+$/);
  assert.match(nodes[0].status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
});

const statefulSet = `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: ${IMAGE}
        imagePullPolicy: Never
        command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 16Mi}}
`;

test('a 3-replica StatefulSet of a locally built busybox image with a PVC per pod rolls out', () => {
  buildAndLoadBusybox(IMAGE);
  apply(statefulSet, NS);
  kubectl(['-n', NS, 'rollout', 'status', 'statefulset/web', '--timeout=240s'], { timeoutMs: 250_000 });
  const pvcs = json<{ items: any[] }>(['-n', NS, 'get', 'pvc']).items;
  assert.deepEqual(pvcs.map((p) => p.metadata.name).sort(), ['data-web-0', 'data-web-1', 'data-web-2']);
  for (const p of pvcs) assert.equal(p.status.phase, 'Bound', `${p.metadata.name} is ${p.status.phase}`);
  assert.equal(new Set(pvcs.map((p) => p.spec.volumeName)).size, 3, 'each pod has its own volume');
});

test('kubectl exec runs a command inside a pod', () => {
  const out = kubectl(['-n', NS, 'exec', 'web-0', '--', 'sh', '-c', 'echo hello from $(hostname)']);
  assert.equal(out.trim(), 'hello from web-0');
});

test('data written to a PVC survives deleting the pod', async () => {
  const token = randomBytes(8).toString('hex');
  kubectl(['-n', NS, 'exec', 'web-1', '--', 'sh', '-c', `echo ${token} > /data/token && sync`]);
  const oldUid = podUid('web-1');
  kubectl(['-n', NS, 'delete', 'pod', 'web-1', '--wait=true', '--timeout=60s']);
  await waitFor('web-1 to come back Ready', () => {
    const uid = podUid('web-1');
    return uid && uid !== oldUid && podReady('web-1') ? uid : undefined;
  });
  const read = kubectl(['-n', NS, 'exec', 'web-1', '--', 'cat', '/data/token']);
  assert.equal(read.trim(), token);
});

test('pods have no default route: only the pod subnet and the service range are routed', () => {
  const routes = kubectl(['-n', NS, 'exec', 'web-0', '--', 'ip', 'route']).trim().split('\n');
  assert.equal(
    routes.some((r) => r.startsWith('default')),
    false,
    routes.join('\n'),
  );
  assert.deepEqual(routes.map((r) => r.split(' ')[0]).sort(), ['10.244.0.0/24', '10.96.0.0/12']);
});

test('a pod reaches the API server through the kubernetes Service with its service account token', () => {
  const script = [
    'T=$(cat /var/run/secrets/kubernetes.io/serviceaccount/token)',
    'wget -q -O - --no-check-certificate --header "Authorization: Bearer $T" ' +
      'https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/version',
  ].join('; ');
  const env = kubectl(['-n', NS, 'exec', 'web-0', '--', 'sh', '-c', 'echo $KUBERNETES_SERVICE_HOST']);
  assert.equal(env.trim(), '10.96.0.1');
  const out = kubectl(['-n', NS, 'exec', 'web-0', '--', 'sh', '-c', script]);
  assert.match(JSON.parse(out).gitVersion, /^v1\./);
});

const crd = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.e2e.molt.test}
spec:
  group: e2e.molt.test
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
          status: {type: object, properties: {phase: {type: string}}}
`;

test('a CustomResourceDefinition with a status subresource accepts status updates', async () => {
  apply(crd);
  kubectl(['wait', '--for=condition=Established', 'crd/widgets.e2e.molt.test', '--timeout=60s']);
  // Established can come a moment before the new endpoints (status included) serve.
  await waitFor('the widgets endpoint', () =>
    kubectlResult(['-n', NS, 'get', 'widgets']).status === 0 ? true : undefined,
  );
  apply('apiVersion: e2e.molt.test/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n', NS);
  const setStatus = ['-n', NS, 'patch', 'widget', 'w1', '--subresource=status', '--type=merge'];
  await waitFor('the status subresource', () =>
    kubectlResult([...setStatus, '-p', '{"status":{"phase":"Ready"}}']).status === 0 ? true : undefined,
  );
  const w = json(['-n', NS, 'get', 'widget', 'w1']);
  assert.equal(w.status.phase, 'Ready');
  // Through the main resource, status is ignored: that is what the subresource means.
  kubectl(['-n', NS, 'patch', 'widget', 'w1', '--type=merge', '-p', '{"spec":{"size":4},"status":{"phase":"Nope"}}']);
  const w2 = json(['-n', NS, 'get', 'widget', 'w1']);
  assert.equal(w2.spec.size, 4);
  assert.equal(w2.status.phase, 'Ready');
  kubectl(['delete', 'crd', 'widgets.e2e.molt.test', '--wait=false']);
});

// ---- down / warm restart (only with the cluster to ourselves) ----

interface Footprint {
  pids: { pid: number; start: string }[];
  netns: string[];
  veths: string[];
}

/** The start time (clock ticks since boot) of a process: with the PID, its identity — PIDs are reused. */
function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

/** The process recorded before `down` still runs (same PID and start time, not a zombie). */
function stillRunning(p: { pid: number; start: string }): boolean {
  return liveNonZombie(p.pid) && startTime(p.pid) === p.start;
}

function liveNonZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

function footprint(): Footprint {
  const pids = readdirSync(`${RUN}/pids`)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => {
      const [pid, start] = readFileSync(`${RUN}/pids/${f}`, 'utf8').trim().split(' ');
      return { pid: Number(pid), start: start ?? '' };
    });
  const netns = existsSync('/var/run/netns') ? readdirSync('/var/run/netns').filter((n) => n.startsWith('cni-')) : [];
  const veths = execFileSync('ip', ['-o', 'link', 'show', 'master', BRIDGE], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(': ')[1]!.split('@')[0]!);
  return { pids: [...pids, ...shimPids().map((pid) => ({ pid, start: startTime(pid) }))], netns, veths };
}

/** Live processes whose command line names the cluster's run directory (daemons, shims, watches). */
function processesNamingRun(onlyShims = false): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (onlyShims && !readlinkSync(`/proc/${d}/exe`).includes('containerd-shim')) continue;
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(`${RUN}/`) && liveNonZombie(Number(d)))
        out.push(Number(d));
    } catch {
      // gone already
    }
  }
  return out;
}

const shimPids = (): number[] => processesNamingRun(true);

/** State and command line of a process, for failure messages. */
function describePid(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return `${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 120)}`;
  } catch {
    return 'gone';
  }
}

function sh(cmd: string): string {
  const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
  return r.stdout + r.stderr;
}

function assertNothingLeft(before: Footprint): void {
  assert.ok(before.pids.length >= 8, `expected the daemons' PIDs, got ${before.pids.map((p) => p.pid)}`);
  // A daemon killed by `down` can take a moment to be reaped once it is gone from its session;
  // give the kernel up to 15 s before calling it left behind.
  for (let i = 0; i < 60 && (before.pids.some(stillRunning) || processesNamingRun().length > 0); i++)
    spawnSync('sleep', ['0.25']);
  assert.deepEqual(
    before.pids.filter(stillRunning).map((p) => `${p.pid}: ${describePid(p.pid)}`),
    [],
    'processes left running',
  );
  assert.deepEqual(processesNamingRun(), [], `processes naming ${RUN}/ left running`);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(`${RUN}`) || before.netns.some((n) => l.includes(`/netns/${n}`)));
  assert.deepEqual(mounts, [], 'mounts left behind');
  const netnsNow = existsSync('/var/run/netns') ? readdirSync('/var/run/netns') : [];
  assert.deepEqual(
    before.netns.filter((n) => netnsNow.includes(n)),
    [],
    'network namespaces left behind',
  );
  assert.notEqual(spawnSync('ip', ['link', 'show', BRIDGE]).status, 0, `bridge ${BRIDGE} still exists`);
  const links = sh('ip -o link show');
  assert.deepEqual(
    before.veths.filter((v) => links.includes(` ${v}@`) || links.includes(` ${v}:`)),
    [],
    'veths left',
  );
  const rules = sh('iptables-save; ip6tables-save').split('\n');
  const ours = rules.filter((l) => /KUBE-|molt-k8s|moltk8s0|10\.244\.|10\.96\./.test(l));
  assert.deepEqual(ours, [], 'iptables rules left behind');
  assert.doesNotMatch(sh('nft list tables'), /kube-proxy/, 'nftables table kube-proxy left behind');
  assert.equal(sh('ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null').trim(), '', 'kubepods cgroups left behind');
  assert.equal(existsSync(RUN), false, `${RUN} left behind`);
  // The registry `up` started goes with the cluster: process, data, Podman's trust of its CA, its firewall rule.
  const registryRun = process.env['MOLT_REGISTRY_RUN'] ?? '/var/lib/molt-registry';
  assert.equal(existsSync(registryRun), false, `${registryRun} left behind`);
  assert.equal(
    existsSync(`/etc/containers/certs.d/10.244.0.1:${process.env['MOLT_REGISTRY_PORT'] ?? '5443'}`),
    false,
    'certs.d entry of the registry left behind',
  );
  assert.deepEqual(
    rules.filter((l) => l.includes('molt-registry')),
    [],
    "the registry's iptables rule left behind",
  );
}

// The lifecycle checks stop and restart the cluster: only when a test started it (not by
// hand), MOLT_K8S_KEEP is not 1, and no other test process uses it. They hold the cluster
// lock from the first down to the last, so other test files wait meanwhile.
let exclusive = false;
const skipReason =
  'the cluster was started by hand, MOLT_K8S_KEEP=1, another test process cycled it first, or others kept using it';

test('down stops every process and removes mounts, network namespaces, the bridge and iptables rules', async (t) => {
  exclusive = !keepCluster() && (await takeClusterExclusively());
  if (!exclusive) return t.skip(skipReason);
  const fp = footprint();
  assert.ok(fp.netns.length >= 3, `expected pod network namespaces, got ${fp.netns}`);
  stopCluster();
  assertNothingLeft(fp);
});

// The kubelet sets these at start; `down` puts back what the machine had.
const KERNEL_SETTINGS = ['kernel/panic', 'kernel/panic_on_oops', 'vm/overcommit_memory', 'vm/panic_on_oom'];
const kernelSettings = (): string[] =>
  KERNEL_SETTINGS.map((k) => `${k}=${readFileSync(`/proc/sys/${k}`, 'utf8').trim()}`);

// How fast a warm `up` is belongs to the README's table of cluster timings, not to an assertion:
// on a loaded machine it takes minutes.
test('up after down starts from the warm cache, and down cleans up again, kernel settings included', async (t) => {
  if (!exclusive) return t.skip(skipReason);
  const hostSettings = kernelSettings();
  const again = await restartCluster();
  assert.ok(again.startedByUs && again.cacheWasWarm);
  t.diagnostic(`warm up took ${again.upSeconds.toFixed(1)} s (first up here: ${cluster.upSeconds.toFixed(1)} s)`);
  const node = json(['get', 'node', 'molt-k8s-node']);
  assert.equal(node.status.conditions.find((c: any) => c.type === 'Ready')?.status, 'True');
  const fp = footprint();
  stopCluster();
  assertNothingLeft(fp);
  assert.deepEqual(kernelSettings(), hostSettings, 'kernel settings restored');
  releaseClusterLock();
});
