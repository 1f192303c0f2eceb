import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeApps, looksLikeCompose } from './compose.ts';
import { InvalidInputError } from './errors.ts';

const FILE = '/srv/shop/compose.yaml';

const TWO = `name: shop
services:
  web:
    image: localhost/web:2.1.0
    command: /app/run "with space" --flag
    depends_on: [db]
    ports: ["8080:80"]
    networks:
      front: {ipv4_address: 10.90.7.10}
  db:
    image: localhost/db:15.4.0
    environment: {POSTGRES_PASSWORD: x, PORT: 5432}
    volumes: [data:/var/lib/db, ./conf:/etc/db:ro]
    networks: [front]
    x-molt: {version: 15.4.0-2, package: official/db}
volumes:
  data: {}
networks:
  front:
    ipam: {config: [{subnet: 10.90.7.0/24}]}
x-molt:
  upgrade: {snapshotVolumes: true}
`;

function problems(text: string): string {
  try {
    composeApps(text, FILE);
  } catch (e) {
    assert.ok(e instanceof InvalidInputError, String(e));
    return e.message;
  }
  assert.fail('expected problems');
}

test('a Compose file is told from a molt manifest', () => {
  assert.equal(looksLikeCompose(TWO), true);
  assert.equal(looksLikeCompose('apiVersion: molt.dev/v1alpha1\nkind: App\nspec: {}\n'), false);
  assert.equal(looksLikeCompose('kind: App\nservices: {}\n'), false);
  // The quick check (no "services" in the text, no escape) must not miss one spelled otherwise.
  assert.equal(looksLikeCompose('{"services": {"web": {"image": "x"}}}'), true);
  assert.equal(looksLikeCompose('"\\x73ervices":\n  web:\n    image: x\n'), true);
});

test("each service is an App <project>-<service>, in depends_on order, with Compose's volume and network names", () => {
  const apps = composeApps(TWO, FILE);
  assert.deepEqual(
    apps.map((a) => a.manifest.metadata.name),
    ['shop-db', 'shop-web'],
  );
  const [db, web] = apps.map((a) => a.manifest.spec);
  assert.equal(db?.version, '15.4.0-2');
  assert.equal(db?.package, 'official/db');
  assert.deepEqual(db?.env, { POSTGRES_PASSWORD: 'x', PORT: '5432' });
  assert.deepEqual(db?.volumes, [
    { name: 'shop_data', mountPath: '/var/lib/db' },
    { hostPath: '/srv/shop/conf', mountPath: '/etc/db', readOnly: true },
  ]);
  assert.deepEqual(db?.network, { name: 'shop_front', subnet: '10.90.7.0/24' });
  assert.equal(db?.upgrade.snapshotVolumes, true);
  assert.equal(web?.version, '2.1.0', 'the image tag when it is a version');
  assert.equal(web?.package, 'localhost/web');
  assert.deepEqual(web?.command, ['/app/run', 'with space', '--flag']);
  assert.deepEqual(web?.dependsOn, ['shop-db']);
  assert.deepEqual(web?.network, { name: 'shop_front', subnet: '10.90.7.0/24', ipv4: '10.90.7.10' });
  assert.equal(apps[1]?.line, 3);
});

test('build: is refused at its line, naming it, with what to do', () => {
  const text = 'services:\n  app:\n    image: localhost/a:1.0.0\n    build: .\n';
  assert.match(
    problems(text),
    /compose\.yaml:4:5: services\.app\.build: "build" is not supported by molt: molt runs images: build it first/,
  );
});

test('every unsupported key is refused at its own line, at any level', () => {
  const text =
    'name: p\nservices:\n  a:\n    image: localhost/a:1.0.0\n    container_name: x\n    deploy: {replicas: 2}\n    volumes: [/anon]\n    environment: [NOVALUE]\nconfigs: {}\n';
  const out = problems(text);
  assert.match(out, /:5:5: services\.a\.container_name: "container_name" is not supported/);
  assert.match(out, /:6:14: services\.a\.deploy\.replicas: deploy\.replicas is not supported/);
  assert.match(out, /:7:15: services\.a\.volumes\[0\]: "\/anon" is an anonymous volume: name it/);
  assert.match(out, /:8:18: services\.a\.environment: "NOVALUE" has no value/);
  assert.match(out, /:9:1: configs: "configs" is not supported/);
});

test('a version must be had: the image tag or x-molt', () => {
  assert.match(
    problems('services:\n  a:\n    image: localhost/a:latest\n'),
    /:3:12: services\.a\.image: cannot tell the version of a: its image tag "latest" is not a version; set x-molt: \{version/,
  );
});

test('depends_on: unknown services, cycles and unsupported conditions are refused', () => {
  assert.match(
    problems('services:\n  a:\n    image: localhost/a:1.0.0\n    depends_on: [b]\n'),
    /services\.a\.depends_on: depends on "b", which is not a service/,
  );
  assert.match(
    problems(
      'services:\n  a:\n    image: localhost/a:1.0.0\n    depends_on: [b]\n  b:\n    image: localhost/b:1.0.0\n    depends_on: [a]\n',
    ),
    /depends_on makes a cycle/,
  );
  assert.match(
    problems(
      'services:\n  a:\n    image: localhost/a:1.0.0\n    depends_on: {b: {condition: service_completed_successfully}}\n  b:\n    image: localhost/b:1.0.0\n',
    ),
    /condition "service_completed_successfully" is not supported/,
  );
});

test('a value the manifest schema refuses is reported at the Compose key it came from', () => {
  assert.match(
    problems('services:\n  a:\n    image: localhost/a:1.0.0\n    ports: ["80"]\n'),
    /:4:13: services\.a\.ports\[0\]: "80" names only the container port/,
  );
  assert.match(
    problems('services:\n  a:\n    image: localhost/a:1.0.0\n    restart: sometimes\n'),
    /:4:14: services\.a\.restart: must be no, on-failure/,
  );
});

test('healthcheck, stop_grace_period, tmpfs, labels, secrets, limits', () => {
  const text = `name: p
services:
  a:
    image: localhost/a:1.0.0
    healthcheck: {test: "pg_isready -q", interval: 1m30s, retries: 5}
    stop_grace_period: 1m30s
    tmpfs: /run
    labels: {team: db}
    secrets: [pw, {source: key, target: other}]
    deploy: {resources: {limits: {cpus: "0.5", memory: 256m, pids: 100}}}
secrets:
  pw: {file: ./pw.txt}
  key: {file: /etc/key}
`;
  const [a] = composeApps(text, FILE).map((x) => x.manifest.spec);
  assert.deepEqual(a?.healthcheck, {
    exec: ['/bin/sh', '-c', 'pg_isready -q'],
    periodSeconds: 90,
    timeoutSeconds: 30,
    startPeriodSeconds: 0,
    failureThreshold: 5,
  });
  assert.equal(a?.stopTimeoutSeconds, 90);
  assert.deepEqual(a?.tmpfs, [{ mountPath: '/run' }]);
  assert.deepEqual(a?.containerLabels, { team: 'db' });
  assert.deepEqual(a?.resources, { cpus: '0.5', memory: '256m', pids: 100 });
  assert.deepEqual(
    a?.secrets?.map((s) => [s.name, s.file, s.mountPath]),
    [
      ['pw', '/srv/shop/pw.txt', undefined],
      ['key', '/etc/key', '/run/secrets/other'],
    ],
  );
});

test('a refused service is reported once: depends_on naming it is not a second error; YAML errors have a column', () => {
  const out = problems(
    'name: p\nservices:\n  web:\n    image: localhost/w:1.0.0\n    depends_on: [db]\n  db:\n    build: .\n    image: localhost/d:1.0.0\n',
  );
  assert.match(out, /:7:5: services\.db\.build: "build" is not supported/);
  assert.doesNotMatch(out, /not a service of this file/);
  assert.match(problems('name: p\nservices:\n  web:\n    image: [x\n'), /compose\.yaml:\d+:\d+: YAML: /);
});
