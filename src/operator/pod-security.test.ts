/**
 * Every pod molt creates passes Pod Security `restricted` whenever the app's own settings allow
 * it: the members of a non-root app, every ExecPod, UpgradeTask Jobs and the operator's own
 * Deployment. The checker follows the profile's rules (kubernetes.io/docs/concepts/security/
 * pod-security-standards); the e2e k8s-registry.test.ts runs the app and its ExecPods in a
 * namespace that enforces it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { appManifest } from '../testing/fixtures.ts';
import { execPodFor, statefulSetFor } from './app/template.ts';
import { jobFor } from './task/template.ts';
import { copyJobFor } from './app/volume-copy.ts';

const ALLOWED_VOLUMES = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
];

/** The `restricted` violations of a pod spec (empty: it passes). */
export function restrictedViolations(pod: any): string[] {
  const out: string[] = [];
  const psc = pod.securityContext ?? {};
  for (const v of pod.volumes ?? []) {
    const kind = Object.keys(v).find((k) => k !== 'name');
    if (!kind || !ALLOWED_VOLUMES.includes(kind)) out.push(`volume ${v.name}: ${kind} is not allowed`);
  }
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const sc = c.securityContext ?? {};
    if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) out.push(`${c.name}: runAsNonRoot is not true`);
    if ((sc.runAsUser ?? psc.runAsUser) === 0) out.push(`${c.name}: runAsUser 0`);
    const seccomp = (sc.seccompProfile ?? psc.seccompProfile)?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${c.name}: seccompProfile ${seccomp}`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${c.name}: allowPrivilegeEscalation is not false`);
    if (!sc.capabilities?.drop?.includes('ALL')) out.push(`${c.name}: capabilities do not drop ALL`);
    if ((sc.capabilities?.add ?? []).some((a: string) => a !== 'NET_BIND_SERVICE'))
      out.push(`${c.name}: adds capabilities`);
    if (sc.privileged) out.push(`${c.name}: privileged`);
  }
  return out;
}

const ref = { name: 'notes', namespace: 'ns', uid: 'u' };
const nonRoot = appManifest({
  version: '1.0.0',
  image: 'r.example/notes:1',
  podSecurityContext: { runAsUser: 1000, fsGroup: 1000 },
}).spec;
const root = appManifest({ version: '1.0.0', image: 'r.example/notes:1' }).spec;

test('a non-root app: its members (normal and upgrade mode, with the startup gate) pass restricted', () => {
  assert.deepEqual(restrictedViolations(statefulSetFor(ref, nonRoot).spec?.template.spec), []);
  assert.deepEqual(
    restrictedViolations(
      statefulSetFor(ref, nonRoot, { from: '1', to: '2', gate: true, failureThreshold: 9 }).spec?.template.spec,
    ),
    [],
  );
});

test('a root app keeps running as root (it cannot pass restricted) but gets seccomp RuntimeDefault', () => {
  const pod = statefulSetFor(ref, root).spec?.template.spec as any;
  assert.deepEqual(pod.securityContext, { seccompProfile: { type: 'RuntimeDefault' } });
  assert.equal(pod.containers[0].securityContext, undefined, 'no capability dropped from a root app behind its back');
});

test("the app's own settings win: an explicit securityContext is kept, completed only where it is silent", () => {
  const spec = appManifest({
    version: '1.0.0',
    image: 'r.example/n:1',
    securityContext: { runAsUser: 70, capabilities: { add: ['NET_BIND_SERVICE'] }, allowPrivilegeEscalation: true },
  }).spec;
  const c = statefulSetFor(ref, spec).spec?.template.spec.containers[0] as any;
  assert.deepEqual(c.securityContext, {
    runAsUser: 70,
    capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
    allowPrivilegeEscalation: true,
  });
});

test("ExecPods pass restricted for root and non-root apps (as the app's user, else nobody)", () => {
  for (const spec of [nonRoot, root]) assert.deepEqual(restrictedViolations(execPodFor(ref, spec).spec), []);
  assert.equal((execPodFor(ref, nonRoot).spec as any).securityContext.runAsUser, 1000);
  assert.equal((execPodFor(ref, root).spec as any).securityContext.runAsUser, 65534);
});

test('UpgradeTask Jobs and the operator Deployment pass restricted; molt-system enforces it', () => {
  const job = jobFor({
    task: { name: 't', namespace: 'ns', uid: 'u' },
    spec: { options: { timeout: '10m', concurrency: 1, retries: 0 } } as any,
    targets: 1,
    image: 'localhost/molt-operator:dev',
  }) as any;
  assert.deepEqual(restrictedViolations(job.spec.template.spec), []);
  const docs = parseAllDocuments(
    execFileSync('/usr/bin/kubectl', ['kustomize', new URL('../../deploy', import.meta.url).pathname], {
      encoding: 'utf8',
    }),
  ).map((d) => d.toJS());
  const deploy = docs.find((d) => d?.kind === 'Deployment');
  assert.deepEqual(restrictedViolations(deploy.spec.template.spec), []);
  assert.equal(
    docs.find((d) => d?.kind === 'Namespace')?.metadata.labels['pod-security.kubernetes.io/enforce'],
    'restricted',
  );
});

test("volume copy Jobs of a non-root app pass restricted, as the app's user and groups; a root app's copy as root adds only what a faithful copy needs", () => {
  for (const op of ['snapshot', 'restore'] as const) {
    const input = { app: ref, member: 'notes-0', generation: 3, op, image: 'localhost/molt-operator:dev' };
    const pod = (copyJobFor({ ...input, spec: nonRoot }).spec as any).template.spec;
    assert.deepEqual(restrictedViolations(pod), [], op);
    assert.equal(pod.securityContext.runAsUser, 1000);
    assert.equal(pod.securityContext.fsGroup, 1000, "the app's fsGroup: its volumes are writable through it");
    assert.equal(pod.automountServiceAccountToken, false);
    const rootPod = (copyJobFor({ ...input, spec: root }).spec as any).template.spec;
    assert.equal(rootPod.securityContext.runAsUser, 0);
    const caps = rootPod.containers[0].securityContext.capabilities;
    assert.deepEqual(caps, { drop: ['ALL'], add: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID'] });
    assert.equal(rootPod.containers[0].securityContext.allowPrivilegeEscalation, false);
  }
});
