// End to end: `npm run demo -- --kubernetes` (issue 15) as the README names it — the demo on
// the test cluster with the operator built from this checkout and images pulled from the test
// registry: install, an upgrade that keeps the notes, a broken version rolled back. With
// --local-operator: the in-cluster operator is what test files running beside this one
// install (each its own build), so the demo runs the checkout's operator as a local process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureCluster, kubectlResult, stopClusterIfStarted } from '../k8s/cluster.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

before(async () => {
  await ensureCluster();
});

after(() => {
  kubectlResult(['delete', 'namespace', 'molt-demo', '--ignore-not-found', '--wait=false']);
  stopClusterIfStarted();
});

/** Runs the command as the README gives it; resolves with its exit code and output. */
function npmRunDemo(): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', 'demo', '--', '--kubernetes', '--local-operator'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

test('npm run demo -- --kubernetes installs, upgrades keeping the notes, and rolls back a broken version on the cluster', async () => {
  const { code, out } = await npmRunDemo();
  assert.equal(code, 0, out);
  assert.match(out, /The operator of this checkout, as a local process/);
  assert.match(out, /app\/notes created: 1\.0\.0-1/);
  assert.match(out, /app\/notes upgraded: 1\.0\.0-1 → 1\.1\.0-1/);
  // The failure's own code (the container exiting at start), as locally; not the generic RolledBack.
  assert.match(out, /^error\[(?!RolledBack\])\w+\]: notes: /m);
  assert.match(out, /^notes was rolled back to 1\.1\.0-1; its data is as it was before\.$/m);
  // The notes written to v1 are served by v1.1 after the upgrade and again after the rollback.
  const served = out.split('\n').filter((l) => /^\s+\|\s+\d+\s+buy milk$/.test(l));
  assert.equal(served.length, 3, out);
  assert.match(out, /notes\s+1\.1\.0-1\s+Running\s+1\/1/, 'molt get apps shows v1.1 running');
  assert.match(out, /== Demo done/);
});
