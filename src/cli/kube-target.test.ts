import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../core/errors.ts';
import { parseManifests } from '../core/manifest.ts';
import { requireSameNamespace } from './kube-target.ts';

const docs = parseManifests(
  `apiVersion: molt.dev/v1alpha1
kind: UpgradeTask
metadata: {name: t1, namespace: shop}
spec: {target: {app: notes}, toVersion: 1.1.0-1}
---
apiVersion: molt.dev/v1alpha1
kind: UpgradeTask
metadata: {name: t2}
spec: {target: {app: notes}, toVersion: 1.1.0-1}
`,
  'tasks.yaml',
  ['UpgradeTask'],
  { namespaces: true },
);

test('a document namespace that differs from -n is refused at its line; without -n, or the same, it is fine', () => {
  assert.throws(
    () => requireSameNamespace(docs, 'other'),
    (e: unknown) => {
      assert.ok(e instanceof InvalidInputError);
      assert.match(
        e.message,
        /^tasks\.yaml:3:\d+: metadata\.namespace: "shop" does not match --namespace "other" \(nothing was applied\)$/,
      );
      assert.equal(e.problems.length, 1, 'the document without a namespace goes to -n');
      assert.match(e.hint, /Pass -n shop, or remove metadata\.namespace/);
      return true;
    },
  );
  assert.doesNotThrow(() => requireSameNamespace(docs, undefined));
  assert.doesNotThrow(() => requireSameNamespace(docs, 'shop'));
});
