// The manifests under deploy/: the kustomize base renders, its RBAC is least-privilege, and the
// Helm chart renders the same objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const root = fileURLToPath(new URL('../../', import.meta.url));
const KUBECTL = ['/usr/bin/kubectl', process.env['MOLT_K8S_KUBECTL'] ?? ''].find((k) => k && existsSync(k));

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: any };

function docs(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}

function kustomize(): Obj[] {
  if (!KUBECTL) throw new Error('kubectl not found (/usr/bin/kubectl)');
  return docs(execFileSync(KUBECTL, ['kustomize', `${root}deploy/`], { encoding: 'utf8' }));
}

/** Renders the chart's templates: they may only substitute values (checked), so this is exact. */
function helmTemplates(namespace: string, values: Record<string, unknown>): Obj[] {
  const dir = `${root}deploy/helm/molt/templates`;
  const out: Obj[] = [];
  for (const f of readdirSync(dir).sort()) {
    const text = readFileSync(`${dir}/${f}`, 'utf8');
    const rendered = text.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_, expr: string) => {
      if (expr === '.Release.Namespace') return namespace;
      const m = /^\.Values\.([\w.]+)$/.exec(expr);
      assert.ok(m, `${f}: template action "${expr}" is more than a value substitution`);
      const v = m[1]!.split('.').reduce<any>((o, k) => o?.[k], values);
      assert.notEqual(v, undefined, `${f}: ${expr} has no value`);
      return String(v);
    });
    out.push(...docs(rendered));
  }
  return out;
}

test('kubectl kustomize deploy/ renders the CRDs, RBAC and the operator Deployment with probes', () => {
  const objs = kustomize();
  const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`);
  for (const k of [
    'CustomResourceDefinition/apps.molt.dev',
    'CustomResourceDefinition/releases.molt.dev',
    'CustomResourceDefinition/upgradetasks.molt.dev',
    'ClusterRole/molt-operator',
    'Role/molt-operator-leader-election',
    'Deployment/molt-operator',
    'Namespace/molt-system',
  ]) {
    assert.ok(kinds.includes(k), `${k} missing from ${kinds}`);
  }
  const dep = objs.find((o) => o.kind === 'Deployment')!;
  assert.equal(dep.metadata.namespace, 'molt-system');
  const c = dep.spec.template.spec.containers[0];
  assert.equal(c.image, 'localhost/molt-operator:dev');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
});

test('RBAC is least-privilege: no wildcard verbs or resources, secrets only get (imagePullSecrets) by the operator, no cluster-admin', () => {
  const objs = kustomize();
  const roles = objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
  assert.ok(roles.length >= 2);
  for (const r of roles) {
    for (const rule of r.rules) {
      assert.ok(!rule.verbs.includes('*'), `${r.kind}/${r.metadata.name}: wildcard verb in ${JSON.stringify(rule)}`);
      assert.ok(
        !rule.resources.includes('*') && !rule.apiGroups.includes('*'),
        `${r.kind}/${r.metadata.name}: wildcard resource in ${JSON.stringify(rule)}`,
      );
      if (rule.resources.includes('secrets'))
        assert.ok(
          r.metadata.name === 'molt-operator' &&
            rule.resources.length === 1 &&
            JSON.stringify(rule.verbs) === '["get"]',
          `${r.metadata.name} may only get secrets (the operator, for imagePullSecrets): ${JSON.stringify(rule)}`,
        );
      if (rule.apiGroups.includes(''))
        assert.ok(!rule.verbs.includes('deletecollection') && !rule.verbs.includes('escalate'), JSON.stringify(rule));
    }
  }
  for (const b of objs.filter((o) => o.kind.endsWith('Binding'))) assert.notEqual(b.roleRef.name, 'cluster-admin');
  const leases = roles.find((r) => r.kind === 'Role')!;
  assert.deepEqual(
    leases.rules.flatMap((r: any) => r.resources),
    ['leases'],
    'the namespaced Role only covers leases',
  );
});

test('the Helm chart renders the same objects as the kustomize base (CRDs in crds/, namespace from the release)', () => {
  const values = (docs(readFileSync(`${root}deploy/helm/molt/values.yaml`, 'utf8'))[0] ?? {}) as Record<
    string,
    unknown
  >;
  const chart = helmTemplates('molt-system', values);
  const base = kustomize().filter((o) => o.kind !== 'Namespace' && o.kind !== 'CustomResourceDefinition');
  const byKey = (xs: Obj[]) => new Map(xs.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
  assert.deepEqual(byKey(chart), byKey(base));
  const crds = readdirSync(`${root}deploy/helm/molt/crds`).sort();
  assert.deepEqual(crds, readdirSync(`${root}deploy/crds`).sort());
});

test('UpgradeTask workers get only what `molt task run` uses; the operator may bind exactly that role', () => {
  const objs = kustomize();
  const worker = objs.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'molt-task-worker');
  assert.ok(worker, 'ClusterRole/molt-task-worker missing');
  const grants = new Set(
    worker.rules.flatMap((r: any) => r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${res}:${v}`))),
  );
  for (const g of [
    'apps:get',
    'apps:list',
    'apps:patch',
    'upgradetasks:get',
    'upgradetasks/status:patch',
    'releases:get',
  ])
    assert.ok(grants.has(g), `worker lacks ${g}`);
  for (const g of [...grants] as string[])
    assert.ok(
      !/^(pods|secrets|statefulsets|jobs)/.test(g) && !g.endsWith(':delete') && !g.endsWith(':create'),
      `worker may ${g}`,
    );
  const operator = objs.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'molt-operator')!;
  const bind = operator.rules.filter((r: any) => r.verbs.includes('bind'));
  assert.deepEqual(
    bind.map((r: any) => [r.resources, r.resourceNames]),
    [[['clusterroles'], ['molt-task-worker']]],
  );
});
