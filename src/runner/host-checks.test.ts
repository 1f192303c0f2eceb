import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseManifests } from '../core/manifest.ts';
import { checkReleaseHostInputs, hostProblems } from './host-checks.ts';
import { readInputs } from './host-inputs.ts';

const dir = mkdtempSync(join(tmpdir(), 'molt-host-checks-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function doc(extra: string) {
  const text = `apiVersion: molt.dev/v1alpha1\nkind: App\nmetadata: {name: db}\nspec:\n  package: a/db\n  version: 1.0.0-1\n  image: localhost/db:1\n${extra}`;
  return parseManifests(text, join(dir, 'app.yaml'))[0]!;
}

describe('host checks before apply', () => {
  it('names a missing env file, a world-readable secret and a missing hostPath at their lines', async () => {
    writeFileSync(join(dir, 'pw'), 'secret\n');
    chmodSync(join(dir, 'pw'), 0o644);
    const problems = await hostProblems(
      doc(
        '  envFrom: [{file: ./none.env}]\n  secrets: [{name: pw, file: ./pw}]\n  volumes: [{hostPath: /nonexistent/x, mountPath: /x}]\n',
      ),
      undefined,
    );
    assert.deepEqual(
      problems.map((p) => [p.line, p.field]),
      [
        [8, 'spec.envFrom[0].file'],
        [9, 'spec.secrets[0].file'],
        [10, 'spec.volumes[0].hostPath'],
      ],
    );
    assert.match(problems[1]!.message, /readable by everyone \(mode 0644\)/);
    assert.ok(!problems.some((p) => p.message.includes('secret\n')), 'never the content');
  });

  it('accepts an owner-only secret and a readable env file; reads them for the container', async () => {
    chmodSync(join(dir, 'pw'), 0o600);
    writeFileSync(join(dir, 'app.env'), 'A=1\n');
    const d = doc(
      '  envFrom: [{file: ./app.env}]\n  secrets: [{name: pw, file: ./pw, env: PW}, {name: key, file: ./pw}]\n',
    );
    assert.deepEqual(await hostProblems(d, undefined), []);
    const inputs = readInputs(d.manifest.spec);
    assert.deepEqual(inputs.env, { A: '1' });
    assert.deepEqual(inputs.secretEnv, { PW: 'secret' });
    assert.deepEqual(
      inputs.files.map((f) => [f.path, f.mode.toString(8)]),
      [['/run/secrets/key', '400']],
    );
  });

  it('refuses a host port another process holds, but not one the app itself already publishes', async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
    try {
      const d = doc(`  ports: ["127.0.0.1:${port}:80"]\n`);
      const problems = await hostProblems(d, undefined);
      assert.equal(problems.length, 1);
      assert.match(problems[0]!.message, /is already in use on this host/);
      assert.equal(problems[0]!.line, 8);
      assert.deepEqual(await hostProblems(d, d.manifest), [], 'held by the installed app itself');
    } finally {
      server.close();
    }
  });

  it('checks the files and host paths of every role of a Release at their lines', async () => {
    const text =
      'apiVersion: molt.dev/v1alpha1\nkind: Release\nmetadata: {name: kv-1-0-0}\nspec:\n  package: a/kv\n  version: 1.0.0\n  roles:\n    - name: primary\n      image: localhost/kv:1\n      volumes: [{hostPath: /nonexistent/kv, mountPath: /x}]\n';
    const [release] = parseManifests(text, join(dir, 'release.yaml'), ['Release']);
    await assert.rejects(
      checkReleaseHostInputs(release!),
      /release\.yaml:10:\d+: spec\.roles\[0\]\.volumes\[0\]\.hostPath: \/nonexistent\/kv does not exist/,
    );
  });
});
