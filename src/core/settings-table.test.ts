/**
 * One row per container setting of issue 13 (a Record over SETTINGS_FIELDS: a field added
 * without a row fails tsc), each taken through every converter: the Docker create body and
 * its read-back from inspect (toContainerObservation must report what was asked for), and
 * the pod template (or its refusal on a cluster at the field's path), and the Compose
 * spelling through core/compose.ts (it must give the same manifest fields).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newContainerSpec } from './container-spec.ts';
import { localOnlyFields } from './local-only.ts';
import type { AppSpec, ContainerObservation } from './model.ts';
import { appDocument, appDocumentFor } from './schema.ts';
import { composeApps } from './compose.ts';
import { stringify } from 'yaml';
import { NO_INPUTS, runtimeSettings, SETTINGS_FIELDS, type ResolvedInputs, type SettingsField } from './settings.ts';
import { createBody, toContainerObservation, type ContainerJson } from '../engines/docker/convert.ts';
import { REDACTED } from '../engines/docker/settings-convert.ts';
import type { Container, StatefulSet } from '../engines/kubernetes/index.ts';
import { statefulSetFor } from '../operator/app/template.ts';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Pod = { container: Container; sts: StatefulSet; annotations: Record<string, string> };

interface Row {
  /** The manifest fragment (spec fields) that sets the field. */
  spec: Record<string, unknown>;
  /** Host inputs as read at create time (envFrom, secrets). */
  inputs?: ResolvedInputs;
  /** Checks the create body and the observation read back from it. */
  docker: (body: Body, observed: ContainerObservation) => void;
  /** Checks the pod template, or names the refusal on a cluster (a fragment of its message). */
  pod: ((pod: Pod) => void) | { localOnly: string };
  /** The Compose spelling (service keys, top-level keys) and the manifest fields it must give (default: `spec`). */
  compose: { service: Record<string, unknown>; top?: Record<string, unknown>; spec?: Record<string, unknown> };
}

const TABLE: Record<SettingsField, Row> = {
  ports: {
    spec: { ports: ['8080:80', '127.0.0.1:5432:5432/tcp', { target: 53, published: 5353, protocol: 'udp' }] },
    docker: (b, o) => {
      assert.deepEqual(b.ExposedPorts, { '80/tcp': {}, '5432/tcp': {}, '53/udp': {} });
      assert.deepEqual(b.HostConfig.PortBindings, {
        '80/tcp': [{ HostIp: '', HostPort: '8080' }],
        '5432/tcp': [{ HostIp: '127.0.0.1', HostPort: '5432' }],
        '53/udp': [{ HostIp: '', HostPort: '5353' }],
      });
      assert.deepEqual(
        o.settings?.ports.map((p) => `${p.hostIP}:${p.hostPort}:${p.containerPort}/${p.protocol}`),
        ['127.0.0.1:5432:5432/tcp', ':5353:53/udp', ':8080:80/tcp'].sort(
          (a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1]),
        ),
      );
    },
    pod: ({ container }) =>
      assert.deepEqual(container.ports, [
        { containerPort: 80, protocol: 'TCP' },
        { containerPort: 5432, protocol: 'TCP' },
        { containerPort: 53, protocol: 'UDP' },
      ]),
    compose: {
      service: { ports: ['8080:80', '127.0.0.1:5432:5432/tcp', { target: 53, published: 5353, protocol: 'udp' }] },
    },
  },
  restart: {
    spec: { restart: 'on-failure:5' },
    docker: (b, o) => {
      assert.deepEqual(b.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 5 });
      assert.deepEqual(o.settings?.restart, { name: 'on-failure', maximumRetryCount: 5 });
    },
    pod: { localOnly: 'restart exists only on the local engine' },
    compose: { service: { restart: 'on-failure:5' } },
  },
  resources: {
    spec: { resources: { memory: '512Mi', cpus: '1.5' } },
    docker: (b, o) => {
      assert.equal(b.HostConfig.Memory, 512 * 1024 * 1024);
      assert.equal(b.HostConfig.NanoCpus, 1.5e9);
      assert.equal(o.settings?.memoryBytes, 512 * 1024 * 1024);
      assert.equal(o.settings?.nanoCpus, 1.5e9);
    },
    pod: ({ container }) => assert.deepEqual(container.resources, { limits: { memory: '512Mi', cpu: '1500m' } }),
    compose: { service: { deploy: { resources: { limits: { memory: '512Mi', cpus: 1.5 } } } } },
  },
  user: {
    spec: { user: '999:998' },
    docker: (b, o) => {
      assert.equal(b.User, '999:998');
      assert.equal(o.user, '999:998');
    },
    // A non-root user also gets what Pod Security 'restricted' asks (operator/app/pod-settings.ts).
    pod: ({ sts }) =>
      assert.deepEqual(sts.spec?.template.spec.securityContext, {
        runAsUser: 999,
        runAsGroup: 998,
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      }),
    compose: { service: { user: '999:998' } },
  },
  workingDir: {
    spec: { workingDir: '/srv' },
    docker: (b, o) => {
      assert.equal(b.WorkingDir, '/srv');
      assert.equal(o.settings?.workingDir, '/srv');
    },
    pod: ({ container }) => assert.equal(container.workingDir, '/srv'),
    compose: { service: { working_dir: '/srv' } },
  },
  stopSignal: {
    spec: { stopSignal: 'int' },
    docker: (b, o) => {
      assert.equal(b.StopSignal, 'SIGINT');
      assert.equal(o.settings?.stopSignal, 'SIGINT');
    },
    pod: { localOnly: 'stopSignal is not supported on a cluster' },
    compose: { service: { stop_signal: 'int' } },
  },
  shmSize: {
    spec: { shmSize: '256m' },
    docker: (b, o) => {
      assert.equal(b.HostConfig.ShmSize, 256 * 1024 * 1024);
      assert.equal(o.settings?.shmSizeBytes, 256 * 1024 * 1024);
    },
    pod: ({ container, sts }) => {
      assert.deepEqual(
        sts.spec?.template.spec.volumes?.find((v) => v.name === 'molt-shm'),
        { name: 'molt-shm', emptyDir: { medium: 'Memory', sizeLimit: '256Mi' } },
      );
      assert.ok(container.volumeMounts?.some((m) => m.name === 'molt-shm' && m.mountPath === '/dev/shm'));
    },
    compose: { service: { shm_size: '256m' } },
  },
  tmpfs: {
    spec: { tmpfs: [{ mountPath: '/run', size: '64Mi' }] },
    docker: (b, o) => {
      assert.deepEqual(b.HostConfig.Tmpfs, { '/run': `size=${64 * 1024 * 1024}` });
      assert.deepEqual(o.settings?.tmpfs, [{ mountPath: '/run', sizeBytes: 64 * 1024 * 1024 }]);
    },
    pod: ({ container, sts }) => {
      assert.deepEqual(
        sts.spec?.template.spec.volumes?.find((v) => v.name === 'molt-tmpfs-0'),
        { name: 'molt-tmpfs-0', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
      );
      assert.ok(container.volumeMounts?.some((m) => m.name === 'molt-tmpfs-0' && m.mountPath === '/run'));
    },
    compose: { service: { tmpfs: ['/run:size=64Mi'] } },
  },
  hostPath: {
    spec: { volumes: [{ hostPath: '/srv/conf', mountPath: '/etc/app', readOnly: true }] },
    docker: (b, o) => {
      assert.deepEqual(b.HostConfig.Mounts, [
        { Type: 'bind', Source: '/srv/conf', Target: '/etc/app', ReadOnly: true },
      ]);
      assert.deepEqual(o.mounts, [{ type: 'bind', source: '/srv/conf', destination: '/etc/app', readOnly: true }]);
    },
    pod: { localOnly: 'hostPath bind mounts exist only on the local engine' },
    compose: { service: { volumes: ['/srv/conf:/etc/app:ro'] } },
  },
  envFrom: {
    spec: { envFrom: [{ file: '/etc/app.env' }], env: { B: 'manifest' } },
    inputs: { env: { A: 'from-file', B: 'from-file' }, secretEnv: {}, files: [] },
    docker: (b, o) => {
      assert.deepEqual(b.Env, ['A=from-file', 'B=manifest'], "the manifest's env wins over the file");
      assert.deepEqual(o.env, ['A=from-file', 'B=manifest']);
    },
    pod: { localOnly: 'envFrom files are read on the local host' },
    compose: { service: { env_file: '/etc/app.env', environment: ['B=manifest'] } },
  },
  secrets: {
    spec: {
      secrets: [
        { name: 'pw', file: '/etc/pw', env: 'PGPASSWORD' },
        { name: 'key', file: '/etc/key' },
      ],
    },
    inputs: {
      env: {},
      secretEnv: { PGPASSWORD: 's3cret' },
      files: [{ path: '/run/secrets/key', content: Buffer.from('k'), mode: 0o400, uid: 0, gid: 0 }],
    },
    docker: (b, o) => {
      assert.deepEqual(b.Env, ['PGPASSWORD=s3cret'], 'the engine gets the value');
      assert.deepEqual(o.env, [`PGPASSWORD=${REDACTED}`], 'the observation (journaled, printed) never has it');
      assert.ok(!JSON.stringify(o).includes('s3cret'));
    },
    pod: { localOnly: 'secret files are read on the local host' },
    compose: {
      service: { secrets: ['key'] },
      top: { secrets: { key: { file: '/etc/key' } } },
      spec: { secrets: [{ name: 'key', file: '/etc/key' }] },
    },
  },
  containerLabels: {
    spec: { containerLabels: { 'com.example.team': 'db' } },
    docker: (b, o) => {
      assert.equal(b.Labels['com.example.team'], 'db');
      assert.equal(o.labels['com.example.team'], 'db');
    },
    pod: ({ annotations }) => assert.equal(annotations['com.example.team'], 'db'),
    compose: { service: { labels: ['com.example.team=db'] } },
  },
  healthcheck: {
    spec: { healthcheck: { exec: ['pg_isready'], periodSeconds: 10, failureThreshold: 3, startPeriodSeconds: 5 } },
    docker: (b, o) => {
      assert.deepEqual(b.Healthcheck, {
        Test: ['CMD', 'pg_isready'],
        Interval: 10e9,
        Timeout: 5e9,
        StartPeriod: 5e9,
        Retries: 3,
      });
      assert.deepEqual(o.settings?.healthcheck, {
        exec: ['pg_isready'],
        periodSeconds: 10,
        failureThreshold: 3,
        timeoutSeconds: 5,
        startPeriodSeconds: 5,
      });
    },
    pod: ({ container }) =>
      assert.deepEqual(container.livenessProbe, {
        periodSeconds: 10,
        failureThreshold: 3,
        timeoutSeconds: 5,
        initialDelaySeconds: 5,
        exec: { command: ['pg_isready'] },
      }),
    compose: {
      service: {
        healthcheck: { test: ['CMD', 'pg_isready'], interval: '10s', timeout: '5s', retries: 3, start_period: '5s' },
      },
    },
  },
  dependsOn: {
    spec: { dependsOn: ['db'] },
    // It orders `molt up`; the container itself is as without it.
    docker: (b) => assert.deepEqual(b, bodyOf(spec({}))),
    pod: { localOnly: 'dependsOn orders `molt up`' },
    compose: { service: { depends_on: { store: { condition: 'service_healthy' } } }, spec: { dependsOn: ['p-store'] } },
  },
  monitorSeconds: {
    spec: { upgrade: { monitorSeconds: 30 } },
    // It is a window of the upgrade, not a container setting.
    docker: (b) => assert.deepEqual(b, bodyOf(spec({}))),
    pod: { localOnly: 'upgrade.monitorSeconds is not implemented by the operator' },
    compose: { service: { 'x-molt': { upgrade: { monitorSeconds: 30 } } } },
  },
};

/** A validated spec with the fragment (through the real schema, defaults filled). */
function spec(fragment: Record<string, unknown>): AppSpec {
  const doc = {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name: 'db' },
    spec: { package: 'official/db', version: '1.0.0-1', image: 'localhost/db:1', ...fragment },
  };
  const full = appDocument().parse(doc);
  // A manifest is validated by a schema holding only the settings it names: the same result.
  assert.deepEqual(appDocumentFor(doc).parse(doc), full);
  return full.spec as AppSpec;
}

function bodyOf(s: AppSpec, inputs: ResolvedInputs = NO_INPUTS): Body {
  const manifest = {
    apiVersion: 'molt.dev/v1alpha1' as const,
    kind: 'App' as const,
    metadata: { name: 'db', labels: {} },
    spec: s,
  };
  const body = createBody(newContainerSpec(manifest, undefined, '10.90.0.5', '7', inputs));
  delete (body.Labels as Record<string, string>)['dev.molt.upgrade-id'];
  return body;
}

/** What an engine's inspect shows of a container created with `body` (Podman and Docker echo these fields). */
function inspectOf(body: Body): ContainerJson {
  const h = body.HostConfig;
  return {
    Id: 'c1',
    Name: '/db',
    Image: 'sha256:1',
    Config: {
      Image: body.Image,
      Env: body.Env,
      Labels: body.Labels,
      User: body.User,
      WorkingDir: body.WorkingDir,
      StopSignal: body.StopSignal,
      Healthcheck: body.Healthcheck,
    },
    State: { Status: 'created', Running: false, ExitCode: 0, OOMKilled: false },
    Mounts: (h.Mounts as Body[]).map((m) => ({
      Type: m.Type,
      Source: m.Source,
      Name: m.Type === 'volume' ? m.Source : undefined,
      Destination: m.Target,
      RW: !m.ReadOnly,
    })),
    HostConfig: h,
  };
}

/** The App a one-service Compose file (project p, service db, plus a `store` service to depend on) gives. */
function composeSpec(c: Row['compose']): AppSpec {
  const services = {
    db: { image: 'localhost/db:1.0.0-1', 'x-molt': { package: 'official/db' }, ...c.service },
    store: { image: 'localhost/store:1.0.0' },
  };
  if (c.service['x-molt']) Object.assign(services.db['x-molt'], c.service['x-molt']);
  const app = composeApps(stringify({ name: 'p', services, ...c.top }), '/srv/p/compose.yaml')
    .map((a) => a.manifest)
    .find((m) => m.metadata.name === 'p-db');
  return app!.spec;
}

describe('every container setting through every converter', () => {
  it('has a row for every settings field', () =>
    assert.deepEqual(Object.keys(TABLE).sort(), [...SETTINGS_FIELDS].sort()));

  for (const field of SETTINGS_FIELDS) {
    const row = TABLE[field];
    it(`${field}: Docker create body, and read back from inspect as asked`, () => {
      const s = spec(row.spec);
      const body = bodyOf(s, row.inputs);
      const observed = toContainerObservation(inspectOf(body));
      row.docker(body, observed);
      assert.deepEqual(observed.settings, runtimeSettings(s), 'the observation reports exactly the settings asked for');
    });
    it(`${field}: Compose gives the same manifest fields (core/compose.ts)`, () => {
      const want = spec(row.compose.spec ?? row.spec);
      const got = composeSpec(row.compose);
      for (const key of Object.keys(row.compose.spec ?? row.spec) as (keyof AppSpec)[])
        assert.deepEqual(got[key], want[key], key);
    });
    it(`${field}: pod template${'localOnly' in row.pod ? ' (refused on a cluster)' : ''}`, () => {
      const s = spec(row.spec);
      const refused = localOnlyFields(s);
      if ('localOnly' in row.pod) {
        assert.equal(refused.length, 1, JSON.stringify(refused));
        assert.match(refused[0]!.message, new RegExp(row.pod.localOnly.replace(/[.*+?^${}()|[\]\\`]/g, '\\$&')));
        return;
      }
      assert.deepEqual(refused, []);
      const sts = statefulSetFor({ name: 'db', namespace: 'ns', uid: 'u' }, s);
      const container = sts.spec!.template.spec.containers[0]!;
      row.pod({ container, sts, annotations: sts.spec!.template.metadata.annotations ?? {} });
    });
  }
});
