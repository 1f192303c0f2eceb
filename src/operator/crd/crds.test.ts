import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { findDocumentSchemas, renderCrds } from './crds.ts';
import { structuralProblems, type SchemaNode } from './openapi.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('the committed CRDs in deploy/ and the Helm chart match the zod schemas (else: node scripts/gen-crds.ts)', async () => {
  const files = await renderCrds();
  for (const dir of ['deploy/crds', 'deploy/helm/molt/crds']) {
    for (const [name, text] of files) {
      const committed = readFileSync(`${root}${dir}/${name}`, 'utf8');
      assert.ok(committed === text, `${dir}/${name} is stale: run \`node scripts/gen-crds.ts\` and commit it`);
    }
  }
});

test('every generated schema is structural: typed nodes, no $ref, no additionalProperties: false', async () => {
  for (const [name, text] of await renderCrds()) {
    const crd = parse(text) as { spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] } };
    const schema = crd.spec.versions[0]?.schema.openAPIV3Schema;
    assert.ok(schema, name);
    assert.deepEqual(structuralProblems(schema), [], name);
  }
});

test('App, Release and UpgradeTask schemas are found in src/core by their kind literal', async () => {
  const kinds = new Set((await findDocumentSchemas()).map((d) => d.kind));
  for (const kind of ['App', 'UpgradeTask']) assert.ok(kinds.has(kind), `no ${kind} schema found`);
});

test('the App CRD has a status subresource, short name and the printer columns kubectl shows', async () => {
  const crd = parse((await renderCrds()).get('apps.molt.dev.yaml') ?? '') as any;
  const v = crd.spec.versions[0];
  assert.deepEqual(v.subresources, { status: {} });
  assert.equal(crd.spec.scope, 'Namespaced');
  assert.ok(crd.spec.names.shortNames.length > 0);
  const cols = v.additionalPrinterColumns.map((c: any) => `${c.name}${c.priority ? '(wide)' : ''}`);
  for (const c of ['Version', 'Phase', 'Age', 'Image(wide)', 'Message(wide)'])
    assert.ok(cols.includes(c), `${c} missing from ${cols}`);
  const spec = v.schema.openAPIV3Schema.properties.spec;
  for (const f of ['package', 'version', 'image', 'volumes', 'probes', 'upgradeConfig', 'upgrade'])
    assert.ok(spec.properties[f], `spec.${f} missing`);
  assert.equal(parse((await renderCrds()).get('releases.molt.dev.yaml') ?? '').spec.scope, 'Cluster');
});
