/**
 * The local engine's EnsureImage against a real registry (test/k8s/cluster's docker-registry:
 * TLS from its own CA, htpasswd auth): the image is pushed with `podman push --authfile` and
 * removed locally, so `molt apply` must pull it with the credentials from the usual auth files.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PodmanHarness } from './harness.ts';
import { appDoc, buildApp, molt, writeManifest, type MoltEnv, startTestbed } from './molt-cli.ts';
import { acquireRegistry, releaseRegistry, type TestRegistry } from '../k8s/registry.ts';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
let reg: TestRegistry;
let remote: string;
let remote2: string;
let emptyHome: string;

before(async () => {
  reg = acquireRegistry();
  ({ h, m, net, subnet } = await startTestbed());
  const local = await buildApp(h, 'localhost/e2e-reg', '1.0.0-1');
  remote = `${reg.address}/e2e-${h.id}/app:1.0.0-1`;
  await mustPodman(['tag', local, remote]);
  remote2 = `${reg.address}/e2e-${h.id}/app2:1.0.0-1`;
  await mustPodman(['tag', local, remote2]);
  await mustPodman(['push', '--authfile', reg.authFile, remote]);
  await mustPodman(['push', '--authfile', reg.authFile, remote2]);
  await mustPodman(['rmi', remote, remote2, local]);
  emptyHome = join(m.dir, 'empty-home');
  mkdirSync(emptyHome, { recursive: true });
});
after(async () => {
  await h?.stop();
  if (reg) releaseRegistry();
});

async function mustPodman(args: string[]) {
  const r = await h.podman(args);
  assert.equal(r.code, 0, `podman ${args.join(' ')}: ${r.stderr}`);
}

/** The environment of a user whose only credentials are in `authFile` (none when undefined). */
function authEnv(authFile?: string): Record<string, string> {
  const none = join(emptyHome, 'no-auth.json');
  return {
    HOME: emptyHome,
    XDG_RUNTIME_DIR: emptyHome,
    XDG_CONFIG_HOME: join(emptyHome, '.config'),
    REGISTRY_AUTH_FILE: authFile ?? none,
  };
}

const doc = (name: string) => appDoc({ name, version: '1.0.0-1', image: remote, network: net, subnet });

describe('EnsureImage pulls from a registry with auth', () => {
  test('without credentials the pull is refused by the registry: exit 1, nothing created', async () => {
    const r = await molt(m, ['apply', '-f', writeManifest(m, 'noauth.yaml', doc('reg-noauth'))], authEnv());
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /ImageUnavailable/);
    assert.match(r.stderr, /unauthorized|authentication required|401/i);
    assert.equal(await h.engine.inspectContainer('reg-noauth'), undefined, 'no container');
    assert.equal(await h.engine.inspectImage(remote), undefined, 'no image');
  });

  test('an unreadable auth file is a clear error naming it', async () => {
    const bad = join(m.dir, 'bad-auth.json');
    writeFileSync(bad, '{"auths": ');
    const r = await molt(m, ['apply', '-f', writeManifest(m, 'badauth.yaml', doc('reg-badauth'))], authEnv(bad));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not JSON`));
    assert.equal(await h.engine.inspectContainer('reg-badauth'), undefined);
  });

  test('with the auth file (REGISTRY_AUTH_FILE) molt pulls the image and installs', async () => {
    const r = await molt(m, ['apply', '-f', writeManifest(m, 'auth.yaml', doc('reg-auth'))], authEnv(reg.authFile));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await h.engine.inspectImage(remote), 'the image was pulled');
    const c = await h.engine.inspectContainer('reg-auth');
    assert.ok(c?.running);
    assert.equal(c.image, remote);
    const history = await molt(m, ['history', 'reg-auth', '-o', 'json']);
    assert.match(history.stdout, new RegExp(`pulled ${remote.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  });

  test('credentials from ~/.config/containers/auth.json work too (the usual place)', async () => {
    const home = join(m.dir, 'user-home');
    mkdirSync(join(home, '.config/containers'), { recursive: true });
    writeFileSync(
      join(home, '.config/containers/auth.json'),
      JSON.stringify({
        auths: { [reg.address]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } },
      }),
    );
    const r = await molt(
      m,
      [
        'apply',
        '-f',
        writeManifest(m, 'home.yaml', {
          ...(doc('reg-home') as object),
          spec: { ...(doc('reg-home') as { spec: object }).spec, image: remote2 },
        }),
      ],
      { HOME: home, XDG_RUNTIME_DIR: home, XDG_CONFIG_HOME: join(home, '.config'), REGISTRY_AUTH_FILE: '' },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await h.engine.inspectContainer('reg-home'))?.running);
  });
});

describe('digests: recorded on install and upgrade; molt rollback runs the recorded digest', () => {
  async function pushVersion(tag: string, content: string): Promise<{ ref: string; digest: string }> {
    const local = await buildApp(h, 'localhost/e2e-reg-d', content);
    const ref = `${reg.address}/e2e-${h.id}/digests:${tag}`;
    const file = join(m.dir, `digest-${content}`);
    await mustPodman(['tag', local, ref]);
    await mustPodman(['push', '--authfile', reg.authFile, '--digestfile', file, ref]);
    await mustPodman(['rmi', ref, local]);
    return { ref, digest: readFileSync(file, 'utf8').trim() };
  }
  const status = async (name: string) => JSON.parse((await molt(m, ['get', 'app', name, '-o', 'json'])).stdout).status;
  const docAt = (name: string, version: string, image: string) =>
    appDoc({ name, version, image, network: net, subnet });

  test('install and upgrade record status.imageDigest; the old tag pushed again: rollback runs the old digest', async () => {
    const v1 = await pushVersion('1.0.0-1', '1.0.0-1');
    const v2 = await pushVersion('2.0.0-1', '2.0.0-1');
    const env = authEnv(reg.authFile);
    let r = await molt(m, ['apply', '-f', writeManifest(m, 'd1.yaml', docAt('reg-dig', '1.0.0-1', v1.ref))], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await status('reg-dig')).imageDigest, v1.digest);
    r = await molt(m, ['apply', '-f', writeManifest(m, 'd2.yaml', docAt('reg-dig', '2.0.0-1', v2.ref))], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await status('reg-dig')).imageDigest, v2.digest);
    // 1.0.0-1's tag now names other content, and the engine has it under that tag.
    const evil = await pushVersion('1.0.0-1', '1.0.0-1-evil');
    assert.notEqual(evil.digest, v1.digest);
    await mustPodman(['pull', '--authfile', reg.authFile, v1.ref]);
    r = await molt(m, ['rollback', 'reg-dig'], env);
    assert.equal(r.code, 0, r.stderr);
    const s = await status('reg-dig');
    assert.equal(s.installedVersion, '1.0.0-1');
    assert.equal(s.imageDigest, v1.digest, 'the digest 1.0.0-1 ran, not what its tag names now');
    const c = await h.engine.inspectContainer('reg-dig');
    assert.ok(c?.running);
    assert.ok(c.env.includes('APP_VERSION=1.0.0-1'), `runs the original 1.0.0-1 content: ${c.env.join(' ')}`);
  });
});
