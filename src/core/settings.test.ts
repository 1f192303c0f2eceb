import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseMounts } from './container-spec.ts';
import { localOnlyFields } from './local-only.ts';
import { parseManifests } from './manifest.ts';
import { decide } from './plan.ts';
import {
  formatRestart,
  parseBytes,
  parseEnvFile,
  parseNanoCpus,
  parsePort,
  parseRestart,
  numericUser,
  normaliseSignal,
  toQuantity,
} from './settings.ts';
import { appManifest, containerObservation } from '../testing/fixtures.ts';

describe('sizes, CPUs, ports, restart policies, signals', () => {
  it('reads sizes in binary units, as Docker and Compose do', () => {
    assert.equal(parseBytes('512Mi'), 512 * 1024 ** 2);
    assert.equal(parseBytes('64m'), 64 * 1024 ** 2);
    assert.equal(parseBytes('1g'), 1024 ** 3);
    assert.equal(parseBytes('1.5GiB'), 1.5 * 1024 ** 3);
    assert.equal(parseBytes(4096), 4096);
    for (const bad of ['lots', '', '-1m', '1x', 'Mi', '0', 1.5, 0])
      assert.equal(parseBytes(bad), undefined, String(bad));
    assert.equal(toQuantity(512 * 1024 ** 2), '512Mi');
    assert.equal(toQuantity(1000), '1000');
  });

  it('reads CPUs as a decimal or Kubernetes millicores', () => {
    assert.equal(parseNanoCpus('1.5'), 1.5e9);
    assert.equal(parseNanoCpus(0.5), 0.5e9);
    assert.equal(parseNanoCpus('500m'), 0.5e9);
    for (const bad of ['0', 'two', '-1', '2000']) assert.equal(parseNanoCpus(bad), undefined, bad);
  });

  it('reads Compose short syntax and the long form into one binding', () => {
    assert.deepEqual(parsePort('8080:80'), { hostIP: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
    assert.deepEqual(parsePort('127.0.0.1:5432:5432/udp'), {
      hostIP: '127.0.0.1',
      hostPort: 5432,
      containerPort: 5432,
      protocol: 'udp',
    });
    assert.deepEqual(parsePort({ target: 80, published: 8080, hostIP: '0.0.0.0' }), {
      hostIP: '',
      hostPort: 8080,
      containerPort: 80,
      protocol: 'tcp',
    });
    assert.match((parsePort('80') as { error: string }).error, /give the host port too/);
    assert.match((parsePort('70000:80') as { error: string }).error, /1 to 65535/);
  });

  it('reads restart policies and writes them back the same', () => {
    assert.deepEqual(parseRestart(undefined), { name: 'unless-stopped', maximumRetryCount: 0 });
    assert.deepEqual(parseRestart('on-failure:3'), { name: 'on-failure', maximumRetryCount: 3 });
    for (const p of ['no', 'always', 'unless-stopped', 'on-failure', 'on-failure:3'])
      assert.equal(formatRestart(parseRestart(p)!), p);
    assert.equal(parseRestart('sometimes'), undefined);
  });

  it('normalises signals and numeric users', () => {
    assert.equal(normaliseSignal('int'), 'SIGINT');
    assert.equal(normaliseSignal('SIGFOO'), undefined);
    assert.deepEqual(numericUser('999:998'), { uid: 999, gid: 998 });
    assert.deepEqual(numericUser('999'), { uid: 999 });
    assert.equal(numericUser('postgres'), undefined);
  });

  it('reads env files line by line, naming the bad line', () => {
    const r = parseEnvFile('# c\nA=1\n\nB=x=y\nbad line\n');
    assert.deepEqual(r.env, { A: '1', B: 'x=y' });
    assert.deepEqual(
      r.problems.map((p) => p.line),
      [5],
    );
  });
});

describe('manifests with settings', () => {
  const text = (extra: string) =>
    `apiVersion: molt.dev/v1alpha1\nkind: App\nmetadata: {name: db}\nspec:\n  package: a/db\n  version: 1.0.0-1\n  image: localhost/db:1\n${extra}`;

  it('resolves envFrom and secret files against the manifest directory', () => {
    const [doc] = parseManifests(
      text('  envFrom: [{file: ./app.env}]\n  secrets: [{name: pw, file: ../pw.txt}]\n'),
      '/srv/conf/app.yaml',
    );
    assert.equal(doc!.manifest.spec.envFrom?.[0]?.file, '/srv/conf/app.env');
    assert.equal(doc!.manifest.spec.secrets?.[0]?.file, '/srv/pw.txt');
  });

  it('refuses local-only settings at their line when the manifest goes to a cluster', () => {
    assert.throws(
      () =>
        parseManifests(
          text('  restart: always\n  volumes: [{hostPath: /srv, mountPath: /srv}]\n'),
          'app.yaml',
          ['App'],
          { namespaces: true, cluster: true },
        ),
      (e: Error) => {
        assert.match(e.message, /app\.yaml:8:\d+: spec\.restart: restart exists only on the local engine/);
        assert.match(
          e.message,
          /app\.yaml:9:\d+: spec\.volumes\[0\]\.hostPath: hostPath bind mounts exist only on the local engine/,
        );
        return true;
      },
    );
    assert.deepEqual(localOnlyFields(appManifest({ user: '999', resources: { memory: '1g' } }).spec), []);
    assert.equal(localOnlyFields(appManifest({ user: 'postgres' }).spec)[0]?.path[0], 'user');
  });
});

describe('settings in plans and upgrades', () => {
  it('a changed setting is an upgrade of its own, with a field-level diff', () => {
    const before = appManifest({ ports: ['8080:80'] });
    const d = decide(appManifest({ ports: ['8081:80'] }), before);
    assert.equal(d.action, 'upgrade');
    assert.ok(d.action === 'upgrade' && d.diffs?.includes('ports: ["8080:80"] → ["8081:80"]'), JSON.stringify(d));
  });

  it('settings are compared by meaning: the long form of the same port, restart absent or unless-stopped', () => {
    const installed = appManifest({ ports: ['127.0.0.1:5432:5432'] });
    assert.equal(
      decide(appManifest({ ports: [{ target: 5432, published: 5432, hostIP: '127.0.0.1' }] }), installed).action,
      'record',
    );
    assert.equal(decide(appManifest({ restart: 'unless-stopped' }), appManifest()).action, 'record');
  });

  it('dependsOn and upgrade.monitorSeconds do not shape the container: recorded, no replacement', () => {
    assert.equal(decide(appManifest({ dependsOn: ['db'] }), appManifest()).action, 'record');
  });

  it('a bind mount the new manifest dropped is not inherited; named volumes and foreign mounts are', () => {
    const old = appManifest({
      volumes: [
        { name: 'notes-data', mountPath: '/data' },
        { hostPath: '/srv/conf', mountPath: '/etc/app' },
      ],
    });
    const container = containerObservation({
      mounts: [
        { type: 'volume', source: 'notes-data', destination: '/data', readOnly: false },
        { type: 'bind', source: '/srv/conf', destination: '/etc/app', readOnly: false },
        { type: 'bind', source: '/srv/adopted', destination: '/adopted', readOnly: false },
      ],
    });
    const mounts = chooseMounts(appManifest({ volumes: [] }), { container, image: undefined, manifest: old });
    assert.deepEqual(mounts.map((x) => x.destination).sort(), ['/adopted', '/data']);
  });
});
