/**
 * Names as Kubernetes takes them (issue 17): a Release's name is a DNS-1123 subdomain (dots
 * allowed, up to 253), locally, in `spec.release`/`toRelease` references and in the CRDs; an
 * App's name stays a DNS label (it names containers and DNS records), refused with the
 * dashed form as the fix.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { InvalidInputError } from './errors.ts';
import { parseManifests } from './manifest.ts';
import { dashedAppName, releaseName } from './schema.ts';
import { releaseMarks, releaseNamedBy } from '../operator/release/template.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

const release = (name: string) => `apiVersion: molt.dev/v1alpha1
kind: Release
metadata: {name: ${name}}
spec:
  package: examples/kvstore
  version: 2.0.0-1
  roles: [{name: primary, image: localhost/kvstore:2.0.0-1}]
`;

const inlineApp = (name: string) => `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: ${name}}
spec: {package: official/notes, version: 1.0.0-1, image: localhost/notes:1.0.0-1}
`;

function refusal(text: string, kinds: ('App' | 'Release' | 'UpgradeTask')[] = ['App', 'Release']): InvalidInputError {
  try {
    parseManifests(text, 'a.yaml', kinds);
  } catch (e) {
    assert.ok(e instanceof InvalidInputError, String(e));
    return e;
  }
  assert.fail('expected the document to be refused');
}

test('a Release may carry its version in its name, with dots, up to 253 characters', () => {
  for (const name of [
    'kvstore-2.0.0-1',
    'kvstore.example.com',
    'a',
    `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`,
  ]) {
    const [d] = parseManifests(release(name), 'a.yaml', ['Release']);
    assert.equal(d?.manifest.metadata.name, name);
  }
  assert.equal(releaseName.safeParse('x'.repeat(253)).success, true);
});

test('Release names Kubernetes refuses are refused at their line, saying what a DNS subdomain is', () => {
  for (const name of ['Kvstore-2.0.0', 'kv..1', '-kv', 'kv.', 'kv_1', '"kv.-1"', 'x'.repeat(254)]) {
    const e = refusal(release(name));
    assert.equal(e.problems[0]?.field, 'metadata.name', name);
    assert.equal(e.problems[0]?.line, 3, name);
    assert.match(e.message, /must be (a DNS subdomain|at most 253)/, name);
  }
});

test('an App name stays a DNS label: refused with the reason and the dashed form, in the message and the hint', () => {
  const e = refusal(inlineApp('notes-1.2.3'));
  assert.match(
    e.message,
    /a\.yaml:3:\d+: metadata\.name: must be a DNS label: .*an App's name is also its container's name and DNS name, so no dots\); try "notes-1-2-3"/,
  );
  assert.match(e.hint, /App names are DNS labels .*use "notes-1-2-3"/);
  assert.match(e.hint, /Release names may contain dots/);
  const upper = refusal(inlineApp('Notes_A'));
  assert.match(upper.message, /try "notes-a"/);
  assert.deepEqual(
    parseManifests(inlineApp('notes-1-2-3'), 'a.yaml').map((d) => d.manifest.metadata.name),
    ['notes-1-2-3'],
  );
});

test('dashedAppName suggests only a name that is valid and different', () => {
  assert.equal(dashedAppName('kvstore-2.0.0-1'), 'kvstore-2-0-0-1');
  assert.equal(dashedAppName('..a..'), 'a');
  assert.equal(dashedAppName('notes'), undefined);
  assert.equal(dashedAppName('...'), undefined);
  assert.equal(dashedAppName('a'.repeat(70))?.length, 63);
});

test('spec.release of an App and toRelease of an UpgradeTask accept a dotted Release name', () => {
  const app = `apiVersion: molt.dev/v1alpha1
kind: App
metadata: {name: kv}
spec:
  release: kvstore-1.0.0-1
  roles: [{name: primary, members: 1}]
`;
  const [d] = parseManifests(app, 'a.yaml', ['App', 'ReleaseApp']);
  assert.equal(d?.kind, 'ReleaseApp');
  assert.equal(d?.kind === 'ReleaseApp' ? d.manifest.spec.release : '', 'kvstore-1.0.0-1');
  const task = `apiVersion: molt.dev/v1alpha1
kind: UpgradeTask
metadata: {name: up}
spec: {target: {app: kv}, toRelease: kvstore-2.0.0-1}
`;
  const [t] = parseManifests(task, 'a.yaml', ['UpgradeTask']);
  assert.equal(t?.kind === 'UpgradeTask' ? t.manifest.spec.toRelease : '', 'kvstore-2.0.0-1');
  const bad = refusal(app.replace('kvstore-1.0.0-1', 'kvstore_1'), ['App']);
  assert.equal(bad.problems[0]?.field, 'spec.release');
});

test('the CRDs (deploy/ and the Helm chart) take what the local schema takes for spec.release and toRelease', () => {
  for (const dir of ['deploy/crds', 'deploy/helm/molt/crds']) {
    const apps = parse(readFileSync(`${root}${dir}/apps.molt.dev.yaml`, 'utf8'));
    const tasks = parse(readFileSync(`${root}${dir}/upgradetasks.molt.dev.yaml`, 'utf8'));
    const specOf = (crd: any) => crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties;
    for (const field of [specOf(apps).release, specOf(tasks).toRelease]) {
      assert.equal(field.maxLength, 253, dir);
      const pattern = new RegExp(field.pattern);
      for (const ok of ['kvstore-2.0.0-1', 'kv', 'a.b.c']) assert.ok(pattern.test(ok), `${dir}: ${ok}`);
      for (const no of ['Kv', 'kv..1', 'kv.', '-kv', 'kv_1']) assert.ok(!pattern.test(no), `${dir}: ${no}`);
    }
  }
});

test('on a cluster the release a pod runs is a label when it fits one (≤ 63), else an annotation; both read back', () => {
  const short = releaseMarks('kvstore-2.0.0-1');
  assert.deepEqual(short, { labels: { 'molt.dev/release': 'kvstore-2.0.0-1' }, annotations: {} });
  const longName = `${'k'.repeat(60)}.2.0.0-1`;
  const long = releaseMarks(longName);
  assert.deepEqual(long, { labels: {}, annotations: { 'molt.dev/release': longName } });
  assert.equal(releaseNamedBy(short), 'kvstore-2.0.0-1');
  assert.equal(releaseNamedBy(long), longName);
  assert.equal(releaseNamedBy(undefined), '');
});
