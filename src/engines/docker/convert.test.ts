import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerSpec } from '../../core/model.ts';
import {
  addressesOn,
  bridgeName,
  createBody,
  progressError,
  pullParams,
  REQUESTED_IPV4_LABEL,
  toContainerObservation,
  libpodNetworkObservation,
  toImageObservation,
  toNetworkObservation,
} from './convert.ts';
import type { ContainerJson } from './convert.ts';

const spec: ContainerSpec = {
  name: 'web',
  image: 'localhost/web:2',
  env: { A: '1', B: 'x=y' },
  labels: { 'dev.molt.app': 'web' },
  mounts: [
    { type: 'volume', source: 'data', destination: '/data', readOnly: false },
    { type: 'bind', source: '/etc/hosts', destination: '/etc/extra-hosts', readOnly: true },
    { type: 'tmpfs', source: '', destination: '/scratch', readOnly: false },
  ],
  network: { name: 'appnet', ipv4: '10.90.3.10' },
  stopTimeoutSeconds: 7,
};

describe('createBody', () => {
  it('leaves Cmd and Entrypoint out when the spec does not set them, so the image defaults apply', () => {
    const body = createBody(spec);
    assert.equal('Cmd' in body, false);
    assert.equal('Entrypoint' in body, false);
  });

  it('sends Cmd and Entrypoint when set, including an empty-string entrypoint reset', () => {
    const body = createBody({ ...spec, cmd: ['run'], entrypoint: [''] });
    assert.deepEqual(body.Cmd, ['run']);
    assert.deepEqual(body.Entrypoint, ['']);
  });

  it('asks for the static IP on the named network and records it in a label', () => {
    const body = createBody(spec) as {
      Labels: Record<string, string>;
      NetworkingConfig: unknown;
      HostConfig: { NetworkMode: string };
    };
    assert.deepEqual(body.NetworkingConfig, {
      EndpointsConfig: { appnet: { IPAMConfig: { IPv4Address: '10.90.3.10' } } },
    });
    assert.equal(body.HostConfig.NetworkMode, 'appnet');
    assert.equal(body.Labels[`${REQUESTED_IPV4_LABEL}appnet`], '10.90.3.10');
    assert.equal(body.Labels['dev.molt.app'], 'web');
  });

  it('maps env, stop timeout and each mount type', () => {
    const body = createBody(spec) as { Env: string[]; StopTimeout: number; HostConfig: { Mounts: unknown[] } };
    assert.deepEqual(body.Env, ['A=1', 'B=x=y']);
    assert.equal(body.StopTimeout, 7);
    assert.deepEqual(body.HostConfig.Mounts, [
      { Type: 'volume', Source: 'data', Target: '/data', ReadOnly: false },
      { Type: 'bind', Source: '/etc/hosts', Target: '/etc/extra-hosts', ReadOnly: true },
      { Type: 'tmpfs', Target: '/scratch', ReadOnly: false },
    ]);
  });
});

describe('toContainerObservation', () => {
  const stopped: ContainerJson = {
    Id: 'abc',
    Name: '/web',
    Image: 'sha256:123',
    Config: {
      Image: 'localhost/web:2',
      Cmd: [],
      Entrypoint: ['/bin/sh', '-c'],
      Env: ['A=1'],
      Labels: { 'dev.molt.app': 'web', [`${REQUESTED_IPV4_LABEL}appnet`]: '10.90.3.10' },
    },
    State: { Status: 'exited', Running: false, ExitCode: 137, OOMKilled: false },
    Mounts: [{ Type: 'volume', Name: 'data', Source: '/var/lib/x/_data', Destination: '/data', RW: true }],
    HostConfig: { Tmpfs: { '/scratch': 'rw,rprivate,nosuid,nodev,tmpcopyup' } },
    NetworkSettings: { Networks: { appnet: { IPAddress: '', IPAMConfig: null } } },
  };

  it('reads the requested IP of a stopped Podman container from the label, and hides that label', () => {
    const o = toContainerObservation(stopped);
    assert.deepEqual(o.requestedIps, { appnet: '10.90.3.10' });
    assert.deepEqual(o.networks, {});
    assert.deepEqual(o.labels, { 'dev.molt.app': 'web' });
  });

  it("reads Docker's IPAMConfig when there is no label", () => {
    const o = toContainerObservation({
      ...stopped,
      Config: { ...stopped.Config, Labels: {} },
      NetworkSettings: { Networks: { n: { IPAddress: '10.1.1.2', IPAMConfig: { IPv4Address: '10.1.1.2' } } } },
    });
    assert.deepEqual(o.requestedIps, { n: '10.1.1.2' });
    assert.deepEqual(o.networks, { n: '10.1.1.2' });
  });

  it('normalises names, empty commands, volume sources and tmpfs mounts', () => {
    const o = toContainerObservation(stopped);
    assert.equal(o.name, 'web');
    assert.equal(o.cmd, undefined);
    assert.deepEqual(o.entrypoint, ['/bin/sh', '-c']);
    assert.deepEqual(o.mounts, [
      { type: 'volume', source: 'data', destination: '/data', readOnly: false },
      { type: 'tmpfs', source: '', destination: '/scratch', readOnly: false },
    ]);
    assert.equal(o.exitCode, 137);
    assert.equal(o.imageId, 'sha256:123');
    assert.equal(o.image, 'localhost/web:2');
  });
});

describe('toImageObservation', () => {
  it('reads cmd, entrypoint, labels and sorted volume paths, with null as undefined', () => {
    const o = toImageObservation({
      Id: 'sha256:1',
      Config: { Cmd: null, Entrypoint: ['/init'], Labels: null, Volumes: { '/b': {}, '/a': {} } },
    });
    assert.deepEqual(o, { id: 'sha256:1', cmd: undefined, entrypoint: ['/init'], labels: {}, volumes: ['/a', '/b'] });
  });
});

describe('addressesOn', () => {
  it('collects running, Docker-requested and label-requested addresses on that network only', () => {
    const ips = addressesOn('n', [
      { Id: '1', NetworkSettings: { Networks: { n: { IPAddress: '10.0.0.2' } } } },
      {
        Id: '2',
        Labels: { [`${REQUESTED_IPV4_LABEL}n`]: '10.0.0.3' },
        NetworkSettings: { Networks: { n: { IPAddress: '' } } },
      },
      { Id: '3', NetworkSettings: { Networks: { n: { IPAddress: '', IPAMConfig: { IPv4Address: '10.0.0.4' } } } } },
      {
        Id: '4',
        Labels: { [`${REQUESTED_IPV4_LABEL}other`]: '10.0.0.5' },
        NetworkSettings: { Networks: { other: { IPAddress: '10.0.0.6' } } },
      },
    ]);
    assert.deepEqual([...ips].sort(), ['10.0.0.2', '10.0.0.3', '10.0.0.4']);
  });
});

describe('pullParams', () => {
  it('splits tags but not registry ports, and keeps digests whole', () => {
    assert.deepEqual(pullParams('localhost:5000/app:1.2'), { fromImage: 'localhost:5000/app', tag: '1.2' });
    assert.deepEqual(pullParams('localhost:5000/app'), { fromImage: 'localhost:5000/app', tag: 'latest' });
    assert.deepEqual(pullParams('app@sha256:abc'), { fromImage: 'app@sha256:abc' });
  });
});

describe('progressError', () => {
  it('finds the error of a progress line and ignores progress and garbage', () => {
    assert.equal(progressError('{"status":"Pulling"}'), undefined);
    assert.equal(progressError('not json'), undefined);
    assert.equal(progressError('{"error":"x","errorDetail":{"message":"denied"}}'), 'denied');
    assert.equal(progressError('{"error":"only this"}'), 'only this');
  });
});

describe('bridgeName', () => {
  it('is a stable, valid interface name that differs between networks', () => {
    assert.match(bridgeName('appnet'), /^molt[0-9a-f]{10}$/);
    assert.equal(bridgeName('appnet'), bridgeName('appnet'));
    assert.notEqual(bridgeName('appnet'), bridgeName('appnet2'));
    assert.ok(bridgeName('x').length <= 15);
  });
});

describe('network observations', () => {
  it("reads the IPv4 and IPv6 subnets from the compatible and from Podman's own inspect output", () => {
    const compatible = toNetworkObservation({
      Name: 'appnet',
      IPAM: { Config: [{ Subnet: '10.89.0.0/24' }, { Subnet: 'fd00::/64' }, {}] },
    });
    const libpod = libpodNetworkObservation({
      name: 'appnet',
      subnets: [{ subnet: '10.89.0.0/24' }, { subnet: 'fd00::/64' }, {}],
    });
    assert.deepEqual(compatible, { name: 'appnet', subnets: ['10.89.0.0/24', 'fd00::/64'] });
    assert.deepEqual(libpod, compatible);
    assert.deepEqual(libpodNetworkObservation({ name: 'bare', subnets: null }), { name: 'bare', subnets: [] });
  });
});
