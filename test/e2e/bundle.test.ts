/**
 * molt as users install it: the esbuild bundle (scripts/build.ts) run by bin/molt from a
 * directory without the TypeScript sources — so nothing can fall back on them — doing a real
 * install, upgrade, history and a detached task worker on Podman; and `npm install -g .` into
 * a temporary prefix giving a `molt` on that prefix's PATH.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCodeCache } from '../../src/launch/code-cache-file.ts';
import { run, type PodmanHarness } from './harness.ts';
import { getTask, taskDoc } from './fleet-kit.ts';
import { appDoc, buildApp, moltProcessEnv, startTestbed, writeManifest, type MoltEnv } from './molt-cli.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const NODE = process.execPath;
const REPO = 'localhost/e2e-bundle';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
let install: string;

before(async () => {
  ({ h, m, net, subnet } = await startTestbed());
  await Promise.all([buildApp(h, REPO, '1.0.0-1'), buildApp(h, REPO, '1.1.0-1'), buildApp(h, REPO, '1.2.0-1')]);
  // An installed molt: bin/, the bundle and the runtime dependencies — and no src/.
  install = mkdtempSync(join(h.dir, 'installed-'));
  const built = await run(NODE, [join(ROOT, 'scripts/build.ts'), '--outdir', join(install, 'dist')], process.env);
  assert.equal(built.code, 0, built.stderr);
  mkdirSync(join(install, 'bin'));
  copyFileSync(join(ROOT, 'bin/molt'), join(install, 'bin/molt'));
  symlinkSync(join(ROOT, 'node_modules'), join(install, 'node_modules'));
  symlinkSync(join(ROOT, 'examples'), join(install, 'examples'));
});
after(async () => h?.stop());

/**
 * Runs the installed molt. A trace hook records every file Node's module loader loads (the
 * bundle's loader, dist/molt.cjs, runs the bundle's files itself); the bundle files the run
 * loaded are those its code cache lists, written to a fresh directory unless `codeCache` names one.
 */
async function molt(args: string[], codeCache = mkdtempSync(join(m.dir, 'code-cache-'))) {
  const trace = join(m.dir, 'loaded.txt');
  const hook = join(m.dir, 'trace-hook.mjs');
  writeFileSync(
    hook,
    `import { registerHooks } from 'node:module';\nimport { appendFileSync } from 'node:fs';\nregisterHooks({ load(url, ctx, next) { if (url.startsWith('file:')) appendFileSync(${JSON.stringify(trace)}, url + '\\n'); return next(url, ctx); } });\n`,
  );
  rmSync(trace, { force: true });
  const r = await run(
    join(install, 'bin/molt'),
    args,
    moltProcessEnv(m, { NODE_OPTIONS: `--import=${hook}`, MOLT_CODE_CACHE: codeCache }),
    undefined,
    180_000,
  );
  const byNode = existsSync(trace)
    ? readFileSync(trace, 'utf8')
        .trim()
        .split('\n')
        .filter((u) => u !== `file://${hook}`)
    : [];
  const caches = readdirSync(codeCache).filter((f) => f.endsWith('.bin'));
  const loaded = caches.length === 1 ? [...decodeCodeCache(readFileSync(join(codeCache, caches[0]!))).keys()] : [];
  return { ...r, byNode, loaded, caches };
}

const file = (version: string) =>
  writeManifest(m, `bundled-${version}.yaml`, {
    ...(appDoc({ name: 'bundled', version, image: `${REPO}:${version}`, network: net, subnet }) as object),
    metadata: { name: 'bundled', labels: { suite: 'bundle' } },
  });

test('every bundle file is ASCII, and zod brings no locale but English', () => {
  // One non-ASCII character makes V8 hold a whole file as a two-byte string (scripts/build.ts).
  const files = ['molt.cjs', ...readdirSync(join(install, 'dist/chunks')).map((f) => `chunks/${f}`)];
  for (const f of files) {
    const text = readFileSync(join(install, 'dist', f), 'utf8');
    const at = text.search(/[^\x00-\x7f]/);
    assert.equal(at, -1, `dist/${f} has a non-ASCII character at ${at}: ${text.slice(at - 40, at + 10)}`);
    const locale = /\/\/ node_modules\/zod\/v4\/locales\/(?!en\.js|index\.js)\S+/.exec(text)?.[0];
    assert.equal(locale, undefined, `dist/${f} bundles a zod locale other than English`);
  }
  assert.ok(files.length > 10, `the bundle has its chunks (${files.length} files)`);
});

test("--version and --help load the bundle's entry and nothing of the commands", async () => {
  const v = await molt(['--version']);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), VERSION);
  assert.deepEqual(v.byNode, [`file://${install}/dist/molt.cjs`], 'Node loads the loader alone');
  // The entry and shared chunks only: each command (a chunk named after its module) loads when it runs.
  assert.match(v.loaded[0] ?? '', /^chunks\/molt-[A-Z0-9]+\.cjs$/);
  assert.deepEqual(
    v.loaded.filter((f) => !/^chunks\/(molt|chunk)-[A-Z0-9]+\.cjs$/.test(f)),
    [],
  );
  const bytes = v.loaded.reduce((sum, f) => sum + statSync(join(install, 'dist', f)).size, 0);
  assert.ok(bytes < 400 * 1024, `--version loaded ${bytes} bytes of code`);
  const help = await molt(['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /apply \[options\][\s\S]*task/);
});

test('a command compiles once: its next run takes the code cache as it is, a damaged or untrusted one is rewritten', async () => {
  const dir = mkdtempSync(join(m.dir, 'code-cache-kept-'));
  const first = await molt(['get', 'apps'], dir);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.caches.length, 1, `one cache file: ${first.caches}`);
  const file = join(dir, first.caches[0]!);
  const written = readFileSync(file);
  const { mtimeMs } = statSync(file);
  assert.ok(first.loaded.length > 2, 'the cache holds the chunks `get apps` ran');
  const second = await molt(['get', 'apps'], dir);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stderr, first.stderr);
  // V8 took every file's cached data: nothing compiled anew, nothing written.
  assert.equal(statSync(file).mtimeMs, mtimeMs);
  assert.deepEqual(readFileSync(file), written);
  writeFileSync(file, written.subarray(0, written.length >> 1));
  const third = await molt(['get', 'apps'], dir);
  assert.equal(third.code, 0, third.stderr);
  assert.equal(third.stderr, first.stderr);
  assert.deepEqual(third.loaded, first.loaded, 'the damaged cache was written anew');
  // A file others could have written is not run (V8 runs cached data as code): it is replaced.
  chmodSync(file, 0o666);
  const { mtimeMs: before } = statSync(file);
  const fourth = await molt(['get', 'apps'], dir);
  assert.equal(fourth.code, 0, fourth.stderr);
  assert.notEqual(statSync(file).mtimeMs, before, 'the world-writable cache was written anew');
  assert.equal(statSync(file).mode & 0o077, 0);
  const other = await molt(['--version'], dir);
  assert.equal(other.code, 0, other.stderr);
  assert.equal(other.caches.length, 2, 'each command has its own cache file');
});

test('the bundle installs, upgrades and reports an app, loading only bundle files', async () => {
  const installed = await molt(['apply', '-f', file('1.0.0-1')]);
  assert.equal(installed.code, 0, installed.stderr);
  assert.match(installed.stdout, /app\/bundled created: 1\.0\.0-1/);
  const upgraded = await molt(['apply', '-f', file('1.1.0-1')]);
  assert.equal(upgraded.code, 0, upgraded.stderr);
  assert.match(upgraded.stdout, /app\/bundled upgraded: 1\.0\.0-1 → 1\.1\.0-1/);
  assert.deepEqual(upgraded.byNode, [`file://${install}/dist/molt.cjs`], 'no sources, no node_modules');
  assert.ok(upgraded.loaded.length > 2, 'the upgrade loaded its chunks');
  assert.equal((await h.engine.inspectContainer('bundled'))?.running, true);
  const got = await molt(['get', 'app', 'bundled', '-o', 'json']);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(JSON.parse(got.stdout).status.installedVersion, '1.1.0-1');
  const history = await molt(['history', 'bundled']);
  assert.equal(history.code, 0, history.stderr);
  assert.match(history.stdout, /upgrade[\s\S]*Succeeded/);
});

test('a detached task worker started from the bundle runs the bundle and finishes the task', async () => {
  const applied = await molt([
    'task',
    'apply',
    '-f',
    writeManifest(
      m,
      'bundle-task.yaml',
      taskDoc('bundled-task', { target: { selector: { matchLabels: { suite: 'bundle' } } }, toVersion: '1.2.0-1' }),
    ),
  ]);
  assert.equal(applied.code, 0, applied.stderr);
  const r = await molt(['task', 'run', 'bundled-task', '--detach']);
  assert.equal(r.code, 0, r.stderr);
  const deadline = Date.now() + 120_000;
  let phase = '';
  while (Date.now() < deadline) {
    phase = (await getTask(m, 'bundled-task')).status.phase;
    if (phase !== 'Started' && phase !== 'Pending') break;
    await new Promise((res) => setTimeout(res, 500));
  }
  assert.equal(phase, 'Success', readFileSync(join(m.home, 'tasks', 'bundled-task.log'), 'utf8'));
  const got = await molt(['get', 'app', 'bundled', '-o', 'json']);
  assert.equal(JSON.parse(got.stdout).status.installedVersion, '1.2.0-1');
});

test('npm install -g . into a temporary prefix gives a molt that runs', async () => {
  const prefix = mkdtempSync(join(tmpdir(), 'molt-global-'));
  try {
    const r = await run(
      'npm',
      ['install', '-g', ROOT, '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error'],
      { ...process.env, npm_config_update_notifier: 'false' },
      undefined,
      300_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, MOLT_HOME: join(prefix, 'home') };
    const v = await run('molt', ['--version'], env);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout.trim(), VERSION);
    const apps = await run('molt', ['get', 'apps'], env);
    assert.equal(apps.code, 0, apps.stderr);
    assert.match(apps.stderr, /No apps found/);
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});
