/**
 * Bearer auth against a real registry: Debian's docker-registry with `auth.token` (a JWT
 * issuer this test runs: a token service that takes Basic credentials and signs ES256 tokens
 * with a self-signed certificate the registry trusts, x5c in the header). The client must
 * follow the 401's `Bearer realm,service,scope` challenge, fetch a token with the
 * credentials and read the image. Skips without docker-registry or openssl.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient } from './client.ts';
import { RegistryError } from './errors.ts';
import { pushImage } from '../../../test/k8s/registry-push.ts';

const available = spawnSync('sh', ['-c', 'command -v docker-registry && command -v openssl']).status === 0;
let dir: string;
let registry: ChildProcess | undefined;
let tokens: http.Server | undefined;
let port = 0;
let caPem = '';
let keyPem = '';
let certDer = '';
const USER = 'alice';
const PASSWORD = randomBytes(8).toString('hex');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function b64url(x: string | Buffer): string {
  return Buffer.from(x).toString('base64url');
}

/** An ES256 JWT the registry accepts for `scope` (x5c: the issuer's certificate, trusted as the root bundle). */
function token(scope: string): string {
  const [type, name, actions] = scope.split(':');
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer] };
  const claims = {
    iss: 'molt-test',
    sub: USER,
    aud: 'molt-test-registry',
    exp: now + 300,
    nbf: now - 10,
    iat: now,
    jti: randomBytes(8).toString('hex'),
    access: [{ type, name, actions: (actions ?? '').split(',') }],
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = sign('sha256', Buffer.from(input), { key: createPrivateKey(keyPem), dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

before(async () => {
  if (!available) return;
  dir = mkdtempSync(join(tmpdir(), 'molt-bearer-'));
  const sh = (cmd: string) => assert.equal(spawnSync('sh', ['-c', cmd], { cwd: dir }).status, 0, cmd);
  sh(
    'openssl ecparam -name prime256v1 -genkey -noout -out issuer.key && openssl req -x509 -new -key issuer.key -subj /CN=molt-test-issuer -days 1 -out issuer.crt 2>/dev/null',
  );
  sh(
    'openssl req -x509 -newkey rsa:2048 -nodes -keyout tls.key -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 -out tls.crt 2>/dev/null',
  );
  keyPem = readFileSync(join(dir, 'issuer.key'), 'utf8');
  certDer = readFileSync(join(dir, 'issuer.crt'), 'utf8').replace(/-----[^-]+-----|\s/g, '');
  caPem = readFileSync(join(dir, 'tls.crt'), 'utf8');
  tokens = http.createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    if (auth !== `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`) {
      res.writeHead(401).end('{"details":"bad credentials"}');
      return;
    }
    const scope = new URL(req.url ?? '/', 'http://x').searchParams.get('scope') ?? '';
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: token(scope) }));
  });
  await new Promise<void>((r) => tokens?.listen(0, '127.0.0.1', r));
  const realm = `http://127.0.0.1:${(tokens.address() as { port: number }).port}/token`;
  port = await freePort();
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: ${dir}/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:${port}, tls: {certificate: ${dir}/tls.crt, key: ${dir}/tls.key}}
auth: {token: {realm: "${realm}", service: molt-test-registry, issuer: molt-test, rootcertbundle: ${dir}/issuer.crt}}
`,
  );
  registry = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 60; i++) {
    const up = spawnSync(
      'curl',
      [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--cacert',
        join(dir, 'tls.crt'),
        `https://127.0.0.1:${port}/v2/`,
      ],
      { encoding: 'utf8' },
    ).stdout;
    if (up === '401') break;
    await new Promise((r) => setTimeout(r, 250));
  }
});

after(async () => {
  registry?.kill('SIGTERM');
  await new Promise<void>((r) => (tokens ? tokens.close(() => r()) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('Bearer: the client answers the challenge with a token fetched with its credentials', {
  skip: !available && 'needs docker-registry and openssl',
}, async () => {
  const reg = {
    address: `127.0.0.1:${port}`,
    ca: join(dir, 'tls.crt'),
    authFile: '',
    username: USER,
    password: PASSWORD,
    authorization: `Bearer ${token('repository:team/app:pull,push')}`,
  };
  const pushed = await pushImage(reg, 'team/app', '1.0.0', { 'dev.molt.post-upgrade': '/post' });
  const client = new RegistryClient({ ca: [caPem], credentials: () => ({ username: USER, password: PASSWORD }) });
  const got = await client.resolve(`127.0.0.1:${port}/team/app:1.0.0`);
  assert.equal(got.digest, pushed.digest);
  assert.deepEqual(got.labels, { 'dev.molt.post-upgrade': '/post' });
  const wrong = new RegistryClient({ ca: [caPem], credentials: () => ({ username: USER, password: 'nope' }) });
  await assert.rejects(
    wrong.resolve(`127.0.0.1:${port}/team/app:1.0.0`),
    (e: unknown) => e instanceof RegistryError && e.code === 'RegistryUnauthorized' && /token service/.test(e.message),
  );
});
