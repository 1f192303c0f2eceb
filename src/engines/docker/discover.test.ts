import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { findOnPath, parseEngineAddress, wellKnownSockets } from './discover.ts';

describe('parseEngineAddress', () => {
  it('accepts unix:// URLs, unix: and plain paths (relative ones made absolute)', () => {
    assert.deepEqual(parseEngineAddress('unix:///run/podman/podman.sock'), { path: '/run/podman/podman.sock' });
    assert.deepEqual(parseEngineAddress('unix:/run/x.sock'), { path: '/run/x.sock' });
    assert.deepEqual(parseEngineAddress('/var/run/docker.sock'), { path: '/var/run/docker.sock' });
    assert.deepEqual(parseEngineAddress('x.sock'), { path: resolve('x.sock') });
  });

  it('accepts tcp://host:port, IPv6 hosts in brackets, and refuses a tcp address without a port', () => {
    assert.deepEqual(parseEngineAddress('tcp://127.0.0.1:2375'), { tcp: { host: '127.0.0.1', port: 2375 } });
    assert.deepEqual(parseEngineAddress('tcp://[::1]:2376'), { tcp: { host: '::1', port: 2376 } });
    const noPort = parseEngineAddress('tcp://engine.example');
    assert.ok('problem' in noPort && /tcp:\/\/host:port/.test(noPort.problem));
  });

  it('says clearly that http, https and ssh engines are not supported yet', () => {
    for (const value of ['ssh://core@host/run/podman.sock', 'https://h:2376', 'http://h:2375']) {
      const parsed = parseEngineAddress(value);
      assert.ok('problem' in parsed && /engines are not supported yet/.test(parsed.problem), value);
    }
    const odd = parseEngineAddress('npipe:////./pipe/docker_engine');
    assert.ok('problem' in odd && /unknown address scheme npipe/.test(odd.problem));
    assert.ok('problem' in parseEngineAddress('unix://'));
  });
});

describe('wellKnownSockets', () => {
  it('tries rootful podman, then the user podman socket when XDG_RUNTIME_DIR is set, then docker', () => {
    assert.deepEqual(wellKnownSockets({ XDG_RUNTIME_DIR: '/run/user/1000' }), [
      '/run/podman/podman.sock',
      '/run/user/1000/podman/podman.sock',
      '/var/run/docker.sock',
    ]);
    assert.deepEqual(wellKnownSockets({}), ['/run/podman/podman.sock', '/var/run/docker.sock']);
  });
});

describe('findOnPath', () => {
  it('finds the first executable of that name and skips non-executables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'molt-path-test-'));
    try {
      writeFileSync(join(dir, 'a-podman'), '');
      const bin = mkdtempSync(join(dir, 'bin-'));
      writeFileSync(join(bin, 'a-podman'), '#!/bin/sh\n');
      chmodSync(join(bin, 'a-podman'), 0o755);
      assert.equal(findOnPath('a-podman', `${dir}:${bin}`), join(bin, 'a-podman'));
      assert.equal(findOnPath('a-podman', dir), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
