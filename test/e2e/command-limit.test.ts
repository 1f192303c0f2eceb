/**
 * The harness waits at least as long as the command it runs may legitimately take (issue 19):
 * the limits it assumes are molt's own, a hung command is named with its stderr.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  durationMs,
  GRACE_MS,
  harnessWaitMs,
  HarnessTimeout,
  kubectlLimitMs,
  MOLT_DEFAULT_TIMEOUTS,
  moltCommand,
  moltLimitMs,
  spawnSyncWithin,
} from '../command-limit.ts';
import { run } from './harness.ts';

const MOLT = new URL('../../bin/molt', import.meta.url).pathname;

test('the default time limits the harness assumes are the ones `molt <command> --help` states', () => {
  for (const [command, limit] of Object.entries(MOLT_DEFAULT_TIMEOUTS)) {
    const help = spawnSync(MOLT, [...command.split(' '), '--help'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`--timeout <duration>[\\s\\S]*?\\(default: "${limit}"\\)`), `molt ${command}`);
  }
  // Every command with a --timeout option is in the table.
  for (const command of [
    'apply',
    'plan',
    'get',
    'history',
    'snapshots',
    'rollback',
    'pause',
    'resume',
    'recover',
    'delete',
    'task apply',
    'task run',
    'task get',
    'task list',
    'task describe',
    'task cancel',
    'task delete',
  ]) {
    const help = spawnSync(MOLT, [...command.split(' '), '--help'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(
      help.stdout.includes('--timeout'),
      command in MOLT_DEFAULT_TIMEOUTS,
      `molt ${command}: --timeout in its help and in MOLT_DEFAULT_TIMEOUTS go together`,
    );
  }
});

test("a command's limit: its own --timeout, else its default; global options before the command are skipped", () => {
  assert.equal(moltCommand(['--kubeconfig', 'k', '-n', 'ns', 'task', 'cancel', 'x', '--timeout', '3m']), 'task cancel');
  assert.equal(moltLimitMs(['--kubeconfig', 'k', '-n', 'ns', 'task', 'cancel', 'x', '--timeout', '3m']), 180_000);
  assert.equal(moltLimitMs(['apply', '-f', 'a.yaml']), 600_000);
  assert.equal(moltLimitMs(['apply', '--timeout=2s', '-f', 'a.yaml']), 2_000);
  assert.equal(
    moltLimitMs(['--home', 'apply', 'get', 'apps']),
    undefined,
    "a global option's value is not the command",
  );
  assert.equal(moltLimitMs(['resume', 'kv']), 1_800_000);
  assert.equal(moltLimitMs(['recover', 'kv']), undefined);
  assert.equal(kubectlLimitMs(['wait', '--for=condition=Established', 'crd/x', '--timeout=60s']), 60_000);
  assert.equal(kubectlLimitMs(['-n', 'x', 'wait', 'pod/p']), 30_000);
  assert.equal(kubectlLimitMs(['get', 'pods']), undefined);
  assert.equal(durationMs('1m30s'), 90_000);
  assert.equal(durationMs('90'), 90_000);
  assert.equal(durationMs('10x'), undefined);
});

test('the harness waits at least the limit plus a grace for the rollback after it, never less than its floor', () => {
  assert.equal(
    harnessWaitMs(180_000, 120_000),
    180_000 + GRACE_MS,
    'task cancel --timeout 3m: longer than the 120 s that killed it',
  );
  assert.equal(harnessWaitMs(undefined, 120_000), 120_000);
  assert.equal(harnessWaitMs(2_000, 180_000), 180_000);
});

test('a command the harness has to kill is named, with its limit and stderr (spawnSync and async)', async () => {
  assert.throws(
    () => spawnSyncWithin('sh', ['-c', 'echo still migrating >&2; exec sleep 30'], undefined, 300),
    (e: unknown) => {
      assert.ok(e instanceof HarnessTimeout);
      assert.match(
        e.message,
        /killed `sh -c echo still migrating >&2; exec sleep 30` after 0\.3s \(it has no time limit of its own\); its stderr:\nstill migrating/,
      );
      return true;
    },
  );
  assert.match(
    new HarnessTimeout('molt', ['task', 'cancel', 'c', '--timeout', '3m'], 300_000, 180_000, '').message,
    /killed `molt task cancel c --timeout 3m` after 300s \(its own limit was 180s\); its stderr:\n\(empty\)/,
  );
  const ok = spawnSyncWithin('sh', ['-c', 'echo out; echo err >&2; exit 3'], undefined, 10_000);
  assert.deepEqual(ok, { status: 3, stdout: 'out\n', stderr: 'err\n' });
  await assert.rejects(
    run('sh', ['-c', 'echo hung here >&2; sleep 30'], process.env, undefined, 300),
    /killed `sh -c echo hung here >&2; sleep 30` after 0\.3s \(it has no time limit of its own\); its stderr:\nhung here/,
  );
});
