/**
 * The OCI distribution client against the real test registry (test/k8s/cluster registry:
 * Debian's docker-registry with TLS from its own CA and htpasswd auth): digests, labels through
 * an index, auth from a dockerconfigjson, the custom CA, errors. Skips where the registry cannot
 * be started (not root).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { credentialsFor, parseAuthConfig } from './auth.ts';
import { challengeParams, RegistryClient } from './client.ts';
import { RegistryError } from './errors.ts';
import { parseReference, pinnedReference } from './reference.ts';
import { acquireRegistry, releaseRegistry, type TestRegistry } from '../../../test/k8s/registry.ts';
import { pushImage, pushIndex } from '../../../test/k8s/registry-push.ts';

const root = process.getuid?.() === 0;
let reg: TestRegistry;
const repo = `unit/labels-${process.pid}`;

before(() => {
  if (root) reg = acquireRegistry();
});
after(() => {
  if (root && reg) releaseRegistry();
});

function client(
  opts: { creds?: boolean; ca?: boolean; platform?: { os: string; architecture: string } } = {},
): RegistryClient {
  const config = parseAuthConfig(readFileSync(reg.authFile, 'utf8'), reg.authFile);
  return new RegistryClient({
    ...(opts.ca === false ? {} : { ca: [readFileSync(reg.ca, 'utf8')] }),
    ...(opts.creds === false ? {} : { credentials: (r, p) => credentialsFor(config, r, p) }),
    ...(opts.platform ? { platform: opts.platform } : {}),
  });
}

describe('RegistryClient against the test registry', { skip: !root && 'needs root to start the test registry' }, () => {
  test('a tag resolves to its manifest digest and config labels', async () => {
    const pushed = await pushImage(reg, repo, '1.0.0', {
      'dev.molt.pre-upgrade': '/pre',
      'dev.molt.post-upgrade': '/post',
    });
    const got = await client().resolve(`${reg.address}/${repo}:1.0.0`);
    assert.equal(got.digest, pushed.digest);
    assert.equal(got.manifestDigest, pushed.digest);
    assert.deepEqual(got.labels, { 'dev.molt.pre-upgrade': '/pre', 'dev.molt.post-upgrade': '/post' });
    const byDigest = await client().resolve(pinnedReference(`${reg.address}/${repo}:1.0.0`, pushed.digest));
    assert.deepEqual(byDigest, got, 'the digest reference gives the same');
  });

  test('an index: the digest is the index’s, the labels the linux/amd64 image’s', async () => {
    const pushed = await pushIndex(reg, repo, '2.0.0', [
      { arch: 'arm64', labels: { which: 'arm' } },
      { arch: 'amd64', labels: { which: 'amd' } },
    ]);
    const got = await client().resolve(`${reg.address}/${repo}:2.0.0`);
    assert.equal(got.digest, pushed.digest);
    assert.equal(got.manifestDigest, pushed.manifests.amd64);
    assert.deepEqual(got.labels, { which: 'amd' });
    await assert.rejects(
      client({ platform: { os: 'linux', architecture: 's390x' } }).resolve(`${reg.address}/${repo}:2.0.0`),
      (e: unknown) =>
        e instanceof RegistryError &&
        e.code === 'PlatformNotFound' &&
        /has: linux\/arm64, linux\/amd64/.test(e.message),
    );
  });

  test('a tag pushed again resolves to the new digest; the old digest still gives the old content', async () => {
    const first = await pushImage(reg, repo, 'moving', { v: '1' });
    const second = await pushImage(reg, repo, 'moving', { v: '2' });
    assert.notEqual(first.digest, second.digest);
    const c = client();
    assert.deepEqual((await c.resolve(`${reg.address}/${repo}:moving`)).labels, { v: '2' });
    assert.deepEqual((await c.resolve(`${reg.address}/${repo}@${first.digest}`)).labels, { v: '1' });
  });

  test('without credentials: RegistryUnauthorized, not retryable', async () => {
    await assert.rejects(
      client({ creds: false }).resolve(`${reg.address}/${repo}:1.0.0`),
      (e: unknown) =>
        e instanceof RegistryError &&
        e.code === 'RegistryUnauthorized' &&
        !e.retryable &&
        /without credentials/.test(e.message),
    );
  });

  test('wrong credentials: RegistryUnauthorized naming the user', async () => {
    const c = new RegistryClient({
      ca: [readFileSync(reg.ca, 'utf8')],
      credentials: () => ({ username: 'molt', password: 'wrong' }),
    });
    await assert.rejects(
      c.resolve(`${reg.address}/${repo}:1.0.0`),
      (e: unknown) => e instanceof RegistryError && e.code === 'RegistryUnauthorized' && /user "molt"/.test(e.message),
    );
  });

  test('without the custom CA the TLS handshake fails: RegistryUnavailable (retryable)', async () => {
    await assert.rejects(
      client({ ca: false }).resolve(`${reg.address}/${repo}:1.0.0`),
      (e: unknown) =>
        e instanceof RegistryError && e.code === 'RegistryUnavailable' && e.retryable && /certificate/i.test(e.message),
    );
  });

  test('an unknown tag: ImageNotFound', async () => {
    await assert.rejects(
      client().resolve(`${reg.address}/${repo}:9.9.9`),
      (e: unknown) => e instanceof RegistryError && e.code === 'ImageNotFound',
    );
  });
});

describe('references and challenges', () => {
  test('parseReference: registry host rules, tags, digests', () => {
    assert.deepEqual(parseReference('10.244.0.1:5443/shop/notes:1.2'), {
      registry: '10.244.0.1:5443',
      repository: 'shop/notes',
      tag: '1.2',
    });
    assert.deepEqual(parseReference('busybox'), {
      registry: 'docker.io',
      repository: 'library/busybox',
      tag: 'latest',
    });
    assert.deepEqual(parseReference('localhost/notes'), { registry: 'localhost', repository: 'notes', tag: 'latest' });
    const d = `sha256:${'a'.repeat(64)}`;
    assert.deepEqual(parseReference(`r.example/x/y:1@${d}`), {
      registry: 'r.example',
      repository: 'x/y',
      tag: '1',
      digest: d,
    });
    assert.equal(pinnedReference('r.example:5000/x/y:1', d), `r.example:5000/x/y@${d}`);
    assert.equal(pinnedReference(`r.example:5000/x/y:1@${d}`, d), `r.example:5000/x/y@${d}`);
    assert.throws(() => parseReference('r.example/X/y:1'), /not a repository name/);
    assert.throws(() => parseReference('r.example/x@sha256:12'), /not a digest/);
  });

  test('challengeParams reads a Bearer challenge', () => {
    assert.deepEqual(
      challengeParams(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"',
      ),
      { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
    );
  });

  test('dockerconfigjson: auth or username/password, scheme and /v1/ stripped, the longest repository-scoped key wins', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const c = parseAuthConfig(
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hub:1') },
          'r.example': { username: 'a', password: 'p:q' },
          'r.example/team': { auth: b64('t:2') },
        },
      }),
      'x',
    );
    assert.deepEqual(credentialsFor(c, 'docker.io', 'library/busybox'), { username: 'hub', password: '1' });
    assert.deepEqual(credentialsFor(c, 'r.example', 'other/app'), { username: 'a', password: 'p:q' });
    assert.deepEqual(credentialsFor(c, 'r.example', 'team/app'), { username: 't', password: '2' });
    assert.equal(credentialsFor(c, 'other.example', 'team/app'), undefined);
    assert.throws(() => parseAuthConfig('{', 'secret ns/pull'), /secret ns\/pull is not JSON/);
  });
});
