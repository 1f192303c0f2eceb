import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inheritProcess } from '../../core/inherit.ts';
import { cloneBody, imageProcess, toDefinition, type RawDefinition } from './clone.ts';

/** A container as Podman 4.3's compatible inspect shows one started with `podman run` (trimmed). */
const podmanRun: RawDefinition = {
  Id: 'a9bf4117b7db72ab0edef5df9e17fcb3427beae83729b8b22fd0d67be0b1a83d',
  Name: 'db',
  Image: 'sha256:090e',
  State: { Running: true },
  Config: {
    Hostname: 'dbhost',
    User: '',
    Env: ['TERM=xterm', 'container=podman', 'A=2', 'FOO=bar', 'PATH=/bin:/usr/bin', 'HOSTNAME=dbhost', 'HOME=/root'],
    Cmd: ['sleep', '999'],
    Image: 'localhost/p:1',
    WorkingDir: '/',
    Entrypoint: [],
    OnBuild: null,
    Labels: { 'img.l': 'x', mine: '1' },
    StopSignal: '15',
    StopTimeout: 10,
    ExposedPorts: { '80/tcp': {} },
  },
  HostConfig: {
    Binds: ['dbdata:/data:rw,rprivate,nosuid,nodev,rbind'],
    ContainerIDFile: '',
    ConsoleSize: [0, 0],
    NetworkMode: 'bridge',
    Runtime: 'oci',
    PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '18080' }] },
    RestartPolicy: { Name: 'always', MaximumRetryCount: 0 },
    CapAdd: ['NET_ADMIN'],
    Memory: 67108864,
    Tmpfs: { '/run/x': 'rw,rprivate,nosuid,nodev,tmpcopyup' },
    Ulimits: [{ Name: 'RLIMIT_NOFILE', Hard: 1024, Soft: 1024 }],
    Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' }],
    LogConfig: { Type: 'k8s-file', Config: null },
  },
  NetworkSettings: {
    Networks: {
      'net-1': {
        IPAddress: '10.90.1.20',
        MacAddress: 'de:d6:b4:18:4c:d9',
        Aliases: ['a9bf4117b7db', 'db-alias'],
        IPAMConfig: null,
      },
    },
  },
  Mounts: [
    {
      Type: 'volume',
      Name: 'dbdata',
      Source: '/var/lib/containers/storage/volumes/dbdata/_data',
      Destination: '/data',
      RW: true,
    },
  ],
};
const image = imageProcess({
  Config: { Cmd: ['sleep', '1000'], Env: ['A=1', 'PATH=/bin:/usr/bin'], Labels: { 'img.l': 'x' } },
});
const newImage = imageProcess({
  Config: { Cmd: ['sleep', '2000'], Env: ['A=1', 'PATH=/bin:/usr/bin', 'V=2'], Labels: { 'img.l': 'y' } },
});

test('a definition reads process settings, networks (address and MAC) and keeps the raw parts', () => {
  const def = toDefinition(podmanRun);
  assert.equal(def.name, 'db');
  assert.deepEqual(def.networks, { 'net-1': { ipv4: '10.90.1.20', mac: 'de:d6:b4:18:4c:d9', static: false } });
  assert.deepEqual(def.process.cmd, ['sleep', '999']);
  assert.equal(def.process.entrypoint, undefined);
  assert.equal(def.stopTimeoutSeconds, 10);
});

test('the clone keeps HostConfig (binds, ports, restart, caps, memory, tmpfs, devices, log config) and pins address and MAC', () => {
  const def = toDefinition(podmanRun);
  const body = cloneBody(def, inheritProcess(def.process, image, newImage, { image: 'localhost/p:2' })) as Record<
    string,
    any
  >;
  assert.equal(body.Image, 'localhost/p:2');
  assert.deepEqual(body.Cmd, ['sleep', '999'], 'customised command kept (CMD1)');
  assert.equal(body.Entrypoint, undefined);
  assert.deepEqual([...body.Env].sort(), ['A=2', 'FOO=bar', 'PATH=/bin:/usr/bin', 'V=2']);
  assert.equal(body.Hostname, 'dbhost');
  assert.deepEqual(body.ExposedPorts, { '80/tcp': {} });
  assert.equal(body.WorkingDir, undefined, 'the engine default "/" is not the user\'s');
  assert.equal(body.StopSignal, undefined);
  assert.deepEqual(body.Labels, { mine: '1', 'dev.molt.requested-ipv4.net-1': '10.90.1.20' });
  const host = body.HostConfig;
  assert.deepEqual(host.Binds, podmanRun.HostConfig!.Binds);
  assert.deepEqual(host.PortBindings, podmanRun.HostConfig!.PortBindings);
  assert.deepEqual(host.RestartPolicy, { Name: 'always', MaximumRetryCount: 0 });
  assert.deepEqual(host.CapAdd, ['NET_ADMIN']);
  assert.equal(host.Memory, 67108864);
  assert.deepEqual(host.Tmpfs, podmanRun.HostConfig!.Tmpfs);
  assert.deepEqual(host.Devices, podmanRun.HostConfig!.Devices);
  assert.deepEqual(host.LogConfig, { Type: 'k8s-file', Config: null });
  assert.deepEqual(
    host.Ulimits,
    [{ Name: 'nofile', Hard: 1024, Soft: 1024 }],
    "Podman's RLIMIT_ names as the API takes them",
  );
  assert.equal(host.NetworkMode, 'net-1');
  for (const gone of ['ContainerIDFile', 'ConsoleSize', 'Runtime']) assert.ok(!(gone in host), gone);
  assert.deepEqual(body.NetworkingConfig, {
    EndpointsConfig: {
      'net-1': { IPAMConfig: { IPv4Address: '10.90.1.20' }, MacAddress: 'de:d6:b4:18:4c:d9', Aliases: ['db-alias'] },
    },
  });
});

test('a changed mount replaces the old one at its path; equal mounts keep their old form', () => {
  const def = toDefinition(podmanRun);
  const same = cloneBody(
    def,
    { ...def.process, image: 'x' },
    {
      mounts: [
        { type: 'volume', source: 'dbdata', destination: '/data', readOnly: false },
        { type: 'tmpfs', source: '', destination: '/run/x', readOnly: false },
      ],
    },
  ) as Record<string, any>;
  assert.deepEqual(same.HostConfig.Binds, podmanRun.HostConfig!.Binds);
  assert.equal(same.HostConfig.Mounts, undefined);
  const moved = cloneBody(
    def,
    { ...def.process, image: 'x' },
    { mounts: [{ type: 'volume', source: 'other', destination: '/data', readOnly: false }] },
  ) as Record<string, any>;
  assert.deepEqual(moved.HostConfig.Binds, []);
  assert.deepEqual(moved.HostConfig.Mounts, [{ Type: 'volume', Source: 'other', Target: '/data', ReadOnly: false }]);
});

test('settings a manifest declares replace the old ones; a new address gets its own pin', () => {
  const def = toDefinition(podmanRun);
  const body = cloneBody(
    def,
    { ...def.process, image: 'x' },
    {
      networks: { 'net-1': { ipv4: '10.90.1.30', mac: '02:42:0a:5a:01:1e' } },
      settings: {
        ports: [{ hostIP: '', hostPort: 9090, containerPort: 80, protocol: 'tcp' }],
        restart: { name: 'on-failure', maximumRetryCount: 3 },
        memoryBytes: 128 * 1024 * 1024,
        tmpfs: [],
      },
    },
  ) as Record<string, any>;
  assert.deepEqual(body.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '9090' }] });
  assert.deepEqual(body.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.equal(body.HostConfig.Memory, 128 * 1024 * 1024);
  assert.deepEqual(body.HostConfig.CapAdd, ['NET_ADMIN'], 'the rest is inherited');
  assert.deepEqual(body.NetworkingConfig.EndpointsConfig['net-1'].IPAMConfig, { IPv4Address: '10.90.1.30' });
  assert.equal(body.Labels['dev.molt.requested-ipv4.net-1'], '10.90.1.30');
});
