import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { jsonSchemaOf, mergeObjects, structuralProblems, toStructural } from './openapi.ts';

const convert = (s: z.ZodType) => toStructural(jsonSchemaOf(s));

test('literals become enums, exclusive minimums the boolean form, strict objects lose additionalProperties', () => {
  const s = convert(z.strictObject({ kind: z.literal('App'), period: z.number().positive(), n: z.number().int() }));
  assert.deepEqual(s, {
    type: 'object',
    required: ['kind', 'period', 'n'],
    properties: {
      kind: { type: 'string', enum: ['App'] },
      period: { type: 'number', minimum: 0, exclusiveMinimum: true },
      n: { type: 'integer' },
    },
  });
});

test('records keep their value schema; defaults stay; unknown formats and propertyNames go', () => {
  const s = convert(
    z.object({ env: z.record(z.string().regex(/^[A-Z]+$/), z.string()).default({}), path: z.string().startsWith('/') }),
  );
  assert.deepEqual(s.properties, {
    env: { type: 'object', default: {}, additionalProperties: { type: 'string' } },
    path: { type: 'string', pattern: '^\\/.*' },
  });
  assert.deepEqual(structuralProblems(s), []);
});

test('a union of numbers and strings is int-or-string; of objects, one object with every field', () => {
  assert.deepEqual(convert(z.union([z.number(), z.string()])), { 'x-kubernetes-int-or-string': true });
  const u = convert(z.union([z.object({ a: z.string() }), z.object({ b: z.number() })]));
  assert.deepEqual(u, { type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } } });
});

test('merging variants keeps only commonly required fields and drops defaults of fields not every variant has', () => {
  const inline = convert(
    z.object({
      image: z.string(),
      upgradeConfig: z.object({ force: z.boolean() }).default({ force: false }),
      network: z.object({ name: z.string() }).default({ name: 'molt' }),
    }),
  );
  const release = convert(
    z.object({ release: z.string(), network: z.object({ name: z.string() }).default({ name: 'molt' }) }),
  );
  const m = mergeObjects([inline, release], false) as any;
  assert.equal(m.required, undefined);
  assert.equal(m.properties.upgradeConfig.default, undefined, 'an inline-only default would be added to release apps');
  assert.deepEqual(m.properties.network.default, { name: 'molt' });
});

test('anything unrepresentable keeps unknown fields instead of failing', () => {
  assert.deepEqual(convert(z.any()), { 'x-kubernetes-preserve-unknown-fields': true });
});
