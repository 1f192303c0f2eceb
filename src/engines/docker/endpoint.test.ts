import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { engineAt, parseTcpAddress, readTls, tlsFromEnv } from './endpoint.ts';

describe('parseTcpAddress', () => {
  it('takes host and port, and refuses paths, queries and missing ports', () => {
    assert.deepEqual(parseTcpAddress('tcp://10.0.0.2:2376'), { tcp: { host: '10.0.0.2', port: 2376 } });
    for (const bad of ['tcp://h', 'tcp://h:0', 'tcp://h:2375/v1.41', 'tcp://h:2375?x=1', 'tcp://', 'tcp://u@h:1']) {
      assert.ok('problem' in parseTcpAddress(bad), bad);
    }
  });
});

describe('tlsFromEnv', () => {
  it('follows Docker: DOCKER_TLS_VERIFY turns TLS on with the three PEM files of DOCKER_CERT_PATH', () => {
    assert.equal(tlsFromEnv({}), undefined);
    assert.equal(tlsFromEnv({ DOCKER_TLS_VERIFY: '0', DOCKER_CERT_PATH: '/c' }), undefined);
    assert.deepEqual(tlsFromEnv({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/c' }), {
      ca: '/c/ca.pem',
      cert: '/c/cert.pem',
      key: '/c/key.pem',
    });
  });
});

describe('readTls and engineAt', () => {
  it('reads the PEM files, names a missing one with its field, and labels engines by scheme', () => {
    const dir = mkdtempSync(join(tmpdir(), 'molt-tls-test-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), 'CA');
      const material = readTls({ ca: join(dir, 'ca.pem'), serverName: 'engine-b' });
      assert.equal(material.ca?.toString(), 'CA');
      assert.equal(material.servername, 'engine-b');
      assert.throws(
        () => readTls({ cert: join(dir, 'nope.pem'), key: join(dir, 'nope.pem') }),
        /tls\.cert .*nope\.pem: no such file/,
      );
      assert.equal(
        engineAt({ tcp: { host: '127.0.0.1', port: 2376 } }, { ca: join(dir, 'ca.pem') }).socketPath,
        'tcp+tls://127.0.0.1:2376',
      );
      assert.equal(engineAt({ tcp: { host: '::1', port: 2375 } }).socketPath, 'tcp://[::1]:2375');
      assert.equal(engineAt({ path: '/run/x.sock' }).socketPath, '/run/x.sock');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
