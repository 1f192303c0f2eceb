/**
 * Upgrade scripts and health gates on real Podman: the new version's pre-upgrade script runs
 * in the old container with exactly (old, new), post-upgrade gates the new one's start, and
 * volume snapshots make every rollback after a script data-safe.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLedgerImage, ledgerManifest } from '../../src/examples/ledger.ts';
import { buildTestImage, startPodman, volumeChecksum, type PodmanHarness } from './harness.ts';
import { molt, moltEnv, writeManifest, type MoltEnv } from './molt-cli.ts';

let h: PodmanHarness;
let m: MoltEnv;
let network: { name: string; subnet: string };
const REPO = 'localhost/e2e-ledger';
const DATA = '/var/lib/ledger';

/** A 2.x variant of the ledger whose scripts are given inline. */
async function variant(
  tag: string,
  scripts: { pre?: string; post?: string },
  labels: Record<string, string> = {},
): Promise<string> {
  const start =
    '#!/bin/sh\ntrap "exit 0" TERM\nif [ -e /.molt/upgrade ]; then while [ ! -e /.molt/upgrade-done ]; do sleep 0.1; done; fi\ntouch /tmp/ready\nwhile true; do sleep 1 & wait $!; done\n';
  const files: Record<string, { content: string; mode: number }> = {
    '/opt/ledger/start.sh': { content: start, mode: 0o755 },
  };
  if (scripts.pre) files['/opt/ledger/pre.sh'] = { content: `#!/bin/sh\n${scripts.pre}\n`, mode: 0o755 };
  if (scripts.post) files['/opt/ledger/post.sh'] = { content: `#!/bin/sh\n${scripts.post}\n`, mode: 0o755 };
  await buildTestImage(h, {
    tag,
    cmd: ['/opt/ledger/start.sh'],
    files,
    labels: {
      ...(scripts.pre ? { 'dev.molt.pre-upgrade': '/opt/ledger/pre.sh' } : {}),
      ...(scripts.post ? { 'dev.molt.post-upgrade': '/opt/ledger/post.sh' } : {}),
      ...labels,
    },
  });
  return tag;
}

before(async () => {
  h = await startPodman();
  m = moltEnv(h);
  network = { name: h.name('net'), subnet: h.freeSubnet() };
  await buildLedgerImage(h.engine, REPO, '1.0.0-1');
  await buildLedgerImage(h.engine, REPO, '2.0.0-1');
  await Promise.all([
    variant(`${REPO}:2.0.0-2`, {
      pre: 'echo "refusing: the jump is too large" >&2; echo "partial work" > /var/lib/ledger/pre-touched-this; exit 1',
    }),
    variant(`${REPO}:2.0.0-3`, {
      post: 'sed -i "1,2d" /var/lib/ledger/ledger.txt; echo garbage > /var/lib/ledger/half-migrated; echo "migration crashed half-way" >&2; exit 1',
    }),
    variant(`${REPO}:2.0.0-4`, { pre: `echo ${'x'.repeat(2048)} > /dev/null` }),
    variant(`${REPO}:2.0.0-5`, {}, { 'dev.molt.pre-upgrade': 'opt/ledger/pre.sh' }),
    variant(`${REPO}:2.0.0-6`, {}, { 'dev.molt.post-upgrade': '/opt/ledger/not-there.sh' }),
    variant(`${REPO}:2.0.0-7`, { pre: 'sleep 30' }),
    variant(`${REPO}:2.0.0-8`, {
      post: 'n=$(cat /tmp/attempts 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/attempts; echo "attempt $n"; [ $n -ge 2 ]',
    }),
  ]);
});
after(async () => h?.stop());

function manifest(name: string, version: string, upgrade?: Record<string, unknown>): string {
  return writeManifest(
    m,
    `${name}-${version}.yaml`,
    ledgerManifest({ name, version, image: `${REPO}:${version}`, network, upgrade }),
  );
}

/** Installs ledger 1.0.0-1 with five entries; returns its container, IP and volume checksum. */
async function installV1(name: string) {
  const r = await molt(m, ['apply', '-f', manifest(name, '1.0.0-1')]);
  assert.equal(r.code, 0, r.stderr);
  const c = (await h.engine.inspectContainer(name))!;
  assert.equal(
    (await h.engine.exec(c.id, ['sh', '-c', `for a in 10 20 30 40 50; do echo $a >> ${DATA}/ledger.txt; done`]))
      .exitCode,
    0,
  );
  return { id: c.id, ip: c.requestedIps[network.name], sum: await volumeChecksum(h, `${name}-data`) };
}

async function assertV1Intact(name: string, v1: { id: string; ip?: string; sum: string }) {
  const c = await h.engine.inspectContainer(name);
  assert.equal(c?.id, v1.id, 'the same old container');
  assert.ok(c?.running, 'old container running');
  assert.equal(c?.networks[network.name], v1.ip, 'same IP');
  assert.equal(await volumeChecksum(h, `${name}-data`), v1.sum, 'volume bytes as before the upgrade');
  const rest = (await h.engine.listContainers([`dev.molt.app=${name}`])).filter((x) => x.id !== v1.id);
  assert.deepEqual(
    rest.map((x) => x.name),
    [],
    'no new or helper container left',
  );
}

const read = async (name: string, file: string) =>
  (await h.engine.exec((await h.engine.inspectContainer(name))!.id, ['cat', `${DATA}/${file}`])).stdout;

describe("a format change migrated by the new version's scripts", () => {
  test('pre-upgrade exports in the old container, post-upgrade migrates in the new; both get exactly <old> <new>', async () => {
    const v1 = await installV1('ledger');
    const r = await molt(m, ['apply', '-f', manifest('ledger', '2.0.0-1')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /NOTICE from 2\.0\.0-1:\s+ledger 2 stores entries in format B/);
    assert.match(r.stderr, /pre-upgrade \| exported 5 entries for 2\.0\.0-1/, 'pre-upgrade output streamed live');
    assert.equal(await read('ledger', 'ledger.b'), '# ledger format B\n1;10\n2;20\n3;30\n4;40\n5;50\n');
    assert.equal(
      await read('ledger', 'script-log'),
      'pre-upgrade argv: 2|1.0.0-1|2.0.0-1\npost-upgrade argv: 2|1.0.0-1|2.0.0-1\n',
    );
    const c = await h.engine.inspectContainer('ledger');
    assert.equal(c?.networks[network.name], v1.ip);
    const history = JSON.parse((await molt(m, ['history', 'ledger', '-o', 'json'])).stdout);
    const steps = history.at(-1).steps as { name: string; output: string }[];
    assert.match(steps.find((s) => s.name === 'PreUpgrade')!.output, /exported 5 entries for 2\.0\.0-1/);
    assert.match(steps.find((s) => s.name === 'PostUpgrade')!.output, /migrated 5 entries from 1\.0\.0-1 to 2\.0\.0-1/);
  });

  test('the new version started only after its post-upgrade script finished (startup gate)', async () => {
    const events = (await read('ledger', 'events'))
      .trim()
      .split('\n')
      .map((l) => l.replace(/^\d+ /, ''));
    assert.deepEqual(events, ['post-upgrade done 2.0.0-1', 'start 2.0.0-1']);
  });

  test('molt snapshots lists the snapshot taken before the pre-upgrade script, with its size', async () => {
    const r = await molt(m, ['snapshots', 'ledger']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /OPERATION\s+FROM\s+TO\s+VOLUME\s+SIZE/);
    assert.match(r.stdout, /\n\d+\s+1\.0\.0-1\s+2\.0\.0-1\s+ledger-data\s+\d/);
    const json = JSON.parse((await molt(m, ['snapshots', 'ledger', '-o', 'json'])).stdout);
    assert.ok(json[0].entries[0].bytes > 0);
  });
});

test("plan shows the script steps and the new version's upgrade notification, touching nothing", async () => {
  const v1 = await installV1('planned');
  const r = await molt(m, ['plan', '-f', manifest('planned', '2.0.0-1')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stdout,
    /\d+\. PreUpgrade\s+run the pre-upgrade script, if any, in the running 1\.0\.0-1 container with \(1\.0\.0-1, 2\.0\.0-1\)/,
  );
  assert.match(r.stdout, /NOTICE from 2\.0\.0-1:\n\s+ledger 2 stores entries in format B/);
  await assertV1Intact('planned', v1);
});

describe('script failures', () => {
  test('pre-upgrade exits 1: old container untouched and running, exit 1, its stderr shown', async () => {
    const v1 = await installV1('badpre');
    const r = await molt(m, ['apply', '-f', manifest('badpre', '2.0.0-2')]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /error\[PreUpgradeFailed\]: badpre: the pre-upgrade script \/opt\/ledger\/pre\.sh \(run as \/tmp\/molt-pre-upgrade-\d+-\d+\/pre\.sh in the old container\) exited with code 1:\nrefusing: the jump is too large/,
    );
    assert.match(r.stderr, /1\.0\.0-1 kept running; molt changed nothing/);
    // The script ran in the old container (its side effect is its own business); molt did not touch the data.
    const c = await h.engine.inspectContainer('badpre');
    assert.equal(c?.id, v1.id);
    assert.ok(c?.running);
    assert.equal(await read('badpre', 'pre-touched-this'), 'partial work\n', 'it ran inside the old container');
  });

  test('post-upgrade fails after rewriting half the data: volumes restored to the pre-upgrade checksum, old version back with its IP', async () => {
    const v1 = await installV1('halfpost');
    const r = await molt(m, ['apply', '-f', manifest('halfpost', '2.0.0-3')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[PostUpgradeFailed\]/);
    assert.match(r.stderr, /migration crashed half-way/);
    assert.match(r.stderr, /↩ RestoreVolumes/);
    await assertV1Intact('halfpost', v1);
    const history = JSON.parse((await molt(m, ['history', 'halfpost', '-o', 'json'])).stdout);
    const restore = history.at(-1).steps.find((s: { name: string }) => s.name === 'RestoreVolumes');
    assert.match(restore.message, /restored halfpost-data .* kept in .*displaced\.tar/);
  });

  test('post-upgrade with onFailure: retry is re-run until it succeeds', async () => {
    await installV1('retry');
    const r = await molt(m, [
      'apply',
      '-f',
      manifest('retry', '2.0.0-8', { onFailure: 'retry', postUpgradeAttempts: 3 }),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /post-upgrade attempt 1\/3 failed; retrying/);
    assert.equal((await h.engine.inspectContainer('retry'))?.labels['dev.molt.version'], '2.0.0-8');
  });

  test('a pre-upgrade script past its timeout aborts the upgrade; the old container keeps running', async () => {
    const v1 = await installV1('slowpre');
    const r = await molt(m, ['apply', '-f', manifest('slowpre', '2.0.0-7', { scriptTimeoutSeconds: 1 })]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error\[ScriptTimeout\]: .*did not finish within 1s/);
    const c = await h.engine.inspectContainer('slowpre');
    assert.equal(c?.id, v1.id);
    assert.ok(c?.running);
  });
});

describe('scripts refused before anything is touched', () => {
  for (const [what, version, upgrade, pattern] of [
    [
      'an oversize script',
      '2.0.0-4',
      { scriptMaxBytes: 1024 },
      /error\[ScriptInvalid\]: .*pre-upgrade \/opt\/ledger\/pre\.sh in image .* has \d+ bytes, more than the limit of 1024/,
    ],
    [
      'a relative script path in the image label',
      '2.0.0-5',
      undefined,
      /error\[InvalidInput\]: refuse2005: image label dev\.molt\.pre-upgrade .*: script path "opt\/ledger\/pre\.sh" must be absolute/,
    ],
    [
      'a script missing from the new image',
      '2.0.0-6',
      undefined,
      /error\[ScriptInvalid\]: .*post-upgrade script \/opt\/ledger\/not-there\.sh is missing from image/,
    ],
  ] as const) {
    test(`${what}: clear error, exit 1, old container and data untouched`, async () => {
      const name = `refuse${version.replace(/\D/g, '')}`;
      const v1 = await installV1(name);
      const r = await molt(m, ['apply', '-f', manifest(name, version, upgrade)]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /→ StopOld/);
      await assertV1Intact(name, v1);
    });
  }

  test('a relative script path in the manifest is rejected by validation with file:line', async () => {
    const file = manifest('relpath', '2.0.0-1', { preUpgrade: 'scripts/pre.sh' });
    const r = await molt(m, ['apply', '-f', file]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`${file.replace(/[/.]/g, '\\$&')}:\\d+:\\d+: spec\\.upgrade\\.preUpgrade: must be an absolute path`),
    );
  });

  test('a version with shell metacharacters is rejected by validation, before any script could see it', async () => {
    const file = writeManifest(
      m,
      'meta.yaml',
      ledgerManifest({ name: 'meta', version: '1.0.0-1;touch /tmp/x', image: `${REPO}:1.0.0-1`, network }),
    );
    const r = await molt(m, ['apply', '-f', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /spec\.version: a version is MAJOR\.MINOR\.PATCH/);
    assert.equal(await h.engine.inspectContainer('meta'), undefined);
  });
});
