import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as z from 'zod';
import { buildFields, isLazySchema, lazySchema } from './lazy-schema.ts';
import { appDocument, appDocumentFor, UPGRADE_DEFAULTS, upgradeSettings } from './schema.ts';
import { settingsFields } from './settings-schema.ts';
import { podSettingsFields } from './pod-settings.ts';

const SETTINGS = [...Object.keys(settingsFields), ...Object.keys(podSettingsFields)];

function app(spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name: 'db' },
    spec: { package: 'official/db', version: '1.0.0-1', image: 'localhost/db:1', ...spec },
  };
}

function specKeys(schema: z.ZodObject): string[] {
  return Object.keys((schema.shape['spec'] as z.ZodObject).shape);
}

describe('lazySchema', () => {
  it('builds on the first call only, and is recognised as lazy', () => {
    let builds = 0;
    const s = lazySchema(() => {
      builds++;
      return z.string();
    });
    assert.equal(builds, 0);
    assert.equal(s(), s());
    assert.equal(builds, 1);
    assert.equal(isLazySchema(s), true);
    assert.equal(
      isLazySchema(() => z.string()),
      false,
    );
    assert.equal(isLazySchema(z.string()), false);
  });

  it('buildFields builds the named fields only (all when none are named) and skips names that are no field', () => {
    const built: string[] = [];
    const field = (name: string) =>
      lazySchema(() => {
        built.push(name);
        return z.number().optional();
      });
    const fields = { a: field('a'), b: field('b'), c: field('c') };
    assert.deepEqual(Object.keys(buildFields(fields, new Set(['b', 'toString', 'nope']))), ['b']);
    assert.deepEqual(built, ['b']);
    assert.deepEqual(Object.keys(buildFields(fields)), ['a', 'b', 'c']);
    assert.deepEqual(built, ['b', 'a', 'c']);
    // A field with a stand-in for when it is absent keeps its place, built by the stand-in.
    const standIn = z.literal(0).default(0);
    const shape = buildFields(fields, new Set(['c']), { a: () => standIn });
    assert.deepEqual(Object.keys(shape), ['a', 'c']);
    assert.equal(shape.a, standIn);
  });
});

describe('appDocumentFor', () => {
  it('holds the settings the document names, and the full schema holds all', () => {
    const keys = specKeys(appDocumentFor(app({ ports: ['8080:80'], nodeSelector: { disk: 'ssd' } })));
    assert.deepEqual(
      SETTINGS.filter((k) => keys.includes(k)),
      ['ports', 'nodeSelector'],
    );
    const all = specKeys(appDocument());
    assert.deepEqual(
      SETTINGS.filter((k) => !all.includes(k)),
      [],
    );
    assert.equal(appDocumentFor(app({ ports: ['1:1'] })), appDocumentFor(app({ ports: ['2:2'] })), 'cached per set');
  });

  it('UPGRADE_DEFAULTS is what the schema fills in for an absent upgrade, in its order', () => {
    assert.equal(JSON.stringify(upgradeSettings().parse({})), JSON.stringify(UPGRADE_DEFAULTS));
    const keys = specKeys(appDocumentFor(app({})));
    assert.ok(keys.includes('upgrade'), 'an absent upgrade still gets its defaults');
  });

  // Each document validated both ways: the same data, or the same issues (paths, codes, messages).
  const DOCS: [string, Record<string, unknown>][] = [
    ['no settings', app({})],
    ['settings with defaults inside', app({ healthcheck: { exec: ['true'] }, restart: 'always', user: '999:999' })],
    ['a bad setting', app({ resources: { memory: '1k' }, tmpfs: [{ mountPath: 'rel' }] })],
    [
      'a bad pod setting',
      app({ podSecurityContext: { runAsUser: -1 }, tolerations: [{ operator: 'Exists', value: 'x' }] }),
    ],
    ['an unknown field beside settings', app({ portz: ['1:1'], ports: ['1:1'] })],
    [
      'a clash a refinement finds',
      app({ ports: ['8080:80', '8080:81'], secrets: [{ name: 's', file: 'f', env: 'A' }] }),
    ],
    ['a spec that is no mapping', { ...app({}), spec: 'x' }],
    ['some upgrade settings', app({ upgrade: { keepSnapshots: 5, preUpgrade: '/pre' } })],
    ['a bad upgrade setting', app({ upgrade: { keepSnapshots: 0, onFailure: 'pray' } })],
  ];
  for (const [name, doc] of DOCS)
    it(`validates like the full schema: ${name}`, () => {
      const lean = appDocumentFor(doc).safeParse(doc);
      const full = appDocument().safeParse(doc);
      assert.equal(lean.success, full.success);
      // The same keys in the same order too: specs are recorded and compared as JSON.
      if (lean.success && full.success) assert.equal(JSON.stringify(lean.data), JSON.stringify(full.data));
      else assert.deepEqual(lean.error?.issues, full.error?.issues);
    });
});
