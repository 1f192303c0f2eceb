import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from './errors.ts';
import { parseManifests } from './manifest.ts';

const app = (metadata: string) => `apiVersion: molt.dev/v1alpha1
kind: App
metadata:
${metadata}
spec:
  package: official/notes
  version: 1.0.0-1
  image: localhost/notes:1.0.0-1
  network: {name: appnet}
`;

function problemsOf(text: string, namespaces?: boolean): InvalidInputError {
  try {
    parseManifests(text, 'a.yaml', ['App'], { namespaces });
  } catch (e) {
    assert.ok(e instanceof InvalidInputError);
    return e;
  }
  assert.fail('expected the document to be refused');
}

test('locally metadata.namespace is refused at its line, with what to do', () => {
  const e = problemsOf(app('  name: notes\n  namespace: shop'));
  assert.equal(e.problems.length, 1);
  assert.deepEqual(
    { line: e.problems[0]?.line, column: e.problems[0]?.column, field: e.problems[0]?.field },
    { line: 5, column: 3, field: 'metadata.namespace' },
  );
  assert.match(
    e.message,
    /a\.yaml:5:3: metadata\.namespace: namespaces exist only on a cluster: remove it here, or apply the file to a cluster \(--kubeconfig\/--context\)/,
  );
});

test('with namespaces allowed the document says where it goes; the manifest itself has no namespace', () => {
  const [d] = parseManifests(app('  name: notes\n  namespace: shop\n  labels: {tier: web}'), 'a.yaml', ['App'], {
    namespaces: true,
  });
  assert.deepEqual(d?.namespace, { name: 'shop', line: 5, column: 3 });
  assert.deepEqual(d?.manifest.metadata, { name: 'notes', labels: { tier: 'web' } });
  const [plain] = parseManifests(app('  name: notes'), 'a.yaml', ['App'], { namespaces: true });
  assert.equal(plain?.namespace, undefined);
});

test('a namespace that is not a DNS label is refused at its line; other problems of the document are reported too', () => {
  const e = problemsOf(app('  name: notes\n  namespace: Shop_1\n  colour: red'), true);
  assert.match(e.message, /a\.yaml:5:3: metadata\.namespace: must be a DNS label/);
  assert.match(e.message, /a\.yaml:6:3: metadata\.colour: unknown field "colour"/);
});
