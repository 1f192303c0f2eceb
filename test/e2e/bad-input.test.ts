/**
 * Bad input changes nothing, ever: every case of the corpus in test/bad-input (see its
 * README and cases.json) goes through the real `molt apply -f` and `molt plan -f` while the
 * app it names is installed and running. Each must exit 1 with error[InvalidInput] naming
 * file:line:column and the problem, and afterwards the store (get, history) and the engine
 * (the container, its IP, its volume's bytes, every container, volume and network) must be
 * exactly as before.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { DockerHttpClient } from '../../src/engines/docker/http.ts';
import { startPodman, volumeChecksum, type PodmanHarness, type RunResult } from './harness.ts';
import { buildApp, molt, moltEnv, type MoltEnv } from './molt-cli.ts';

/** One corpus case, as cases.json describes it. */
interface BadInputCase {
  file: string;
  what: string;
  /** The line the error must name (with a column); absent: any line. */
  line?: number;
  /** A fragment the same error line must contain. */
  message: string;
  /** The problem has no place: the error names the file alone. */
  placeless?: boolean;
  /** Also run `molt plan -f` on it (a sample: every command reads files the same way). */
  plan?: boolean;
}

const CORPUS = new URL('../bad-input/', import.meta.url).pathname;
const CASES = JSON.parse(readFileSync(join(CORPUS, 'cases.json'), 'utf8')) as BadInputCase[];
const REPO = 'localhost/bad-input-app';
const APP = 'victim';

let h: PodmanHarness;
let m: MoltEnv;
let net: string;
let subnet: string;
let workDir: string;
let mark: string;
let baseline: Snapshot;
/** A port this test holds on 127.0.0.1 (`${BUSYPORT}`): publishing it must be refused. */
let busy: Server;
let busyPort: number;

before(async () => {
  busy = createServer();
  busyPort = await new Promise<number>((resolve) =>
    busy.listen(0, '127.0.0.1', () => resolve((busy.address() as { port: number }).port)),
  );
  h = await startPodman();
  m = moltEnv(h);
  net = h.name('net');
  subnet = h.freeSubnet();
  workDir = join(m.dir, 'cases');
  mkdirSync(workDir);
  mark = join(m.dir, 'injected-command-ran');
  await Promise.all([buildApp(h, REPO, '1.0.0-1'), buildApp(h, REPO, '1.1.0-1')]);
  const v1 = join(workDir, 'installed.yaml');
  writeFileSync(v1, materialize('valid.yaml').toString().replaceAll('1.1.0-1', '1.0.0-1'));
  const installed = await molt(m, ['apply', '-f', v1]);
  assert.equal(installed.code, 0, installed.stderr);
  const c = await h.engine.inspectContainer(APP);
  assert.ok(c?.running, 'the victim runs');
  const written = await h.engine.exec(c.id, [
    'sh',
    '-c',
    'dd if=/dev/urandom of=/data/blob bs=1k count=128 2>/dev/null && echo precious > /data/note',
  ]);
  assert.equal(written.exitCode, 0, written.stderr);
  baseline = await snapshot();
});
after(async () => {
  busy?.close();
  await h?.stop();
});

/** The corpus file with its placeholders filled in, written to the test's dir; its path. */
function place(file: string): string {
  const path = join(workDir, file);
  writeFileSync(path, materialize(file));
  return path;
}

function materialize(file: string): Buffer {
  const bytes = readFileSync(join(CORPUS, file));
  if (!file.endsWith('.yaml')) return bytes;
  return Buffer.from(
    bytes
      .toString('latin1')
      .replaceAll('${NET}', net)
      .replaceAll('${SUBNET}', subnet)
      .replaceAll('${MARK}', mark)
      .replaceAll('${BUSYPORT}', String(busyPort)),
    'latin1',
  );
}

/** Everything bad input must not change, in the store and in the engine. */
type Snapshot = Record<string, unknown>;

async function snapshot(): Promise<Snapshot> {
  const api = new DockerHttpClient({ socketPath: h.socket });
  const get = async (path: string) => (await api.json<unknown>('GET', path)).value;
  const out = (r: Promise<RunResult>) => r.then((x) => `${x.code}\n${x.stdout}${x.code === 0 ? '' : x.stderr}`);
  const [app, history, containers, volumes, networks, victim, data] = await Promise.all([
    out(molt(m, ['get', 'app', APP, '-o', 'json'])),
    out(molt(m, ['history', APP, '-o', 'json'])),
    get('/containers/json?all=true') as Promise<Array<{ Id: string; Names: string[]; Image: string; State: string }>>,
    get('/volumes') as Promise<{ Volumes: Array<{ Name: string; CreatedAt: string }> | null }>,
    get('/networks') as Promise<Array<{ Name: string; Id: string }>>,
    get(`/containers/${APP}/json`) as Promise<{
      Id: string;
      State: { Running: boolean; StartedAt: string; Pid: number };
      RestartCount: number;
      Config: { Image: string };
    }>,
    volumeChecksum(h, `${APP}-data`),
  ]);
  return {
    app,
    history,
    data,
    victim: {
      id: victim.Id,
      running: victim.State.Running,
      startedAt: victim.State.StartedAt,
      pid: victim.State.Pid,
      restarts: victim.RestartCount,
      image: victim.Config.Image,
    },
    ip: (await h.engine.inspectContainer(APP))?.networks[net],
    containers: containers.map((c) => `${c.Id} ${c.Names.join(',')} ${c.Image} ${c.State}`).sort(),
    volumes: (volumes.Volumes ?? []).map((v) => `${v.Name} ${v.CreatedAt}`).sort(),
    networks: networks.map((n) => `${n.Name} ${n.Id}`).sort(),
  };
}

/** Asserts that nothing in the snapshot changed, naming what did. */
async function assertUnchanged(): Promise<void> {
  const now = await snapshot();
  for (const key of Object.keys(baseline)) assert.deepEqual(now[key], baseline[key], `${key} is exactly as before`);
}

/** Asserts one refusal: exit 1, error[InvalidInput] first, the case's place and message on one line, no step run. */
function assertRefused(r: RunResult, path: string, c: BadInputCase, command: string): void {
  const context = `${command} ${c.file}:\n${r.stderr}`;
  assert.equal(r.code, 1, context);
  assert.equal(r.stdout, '', `${command} printed nothing on stdout`);
  assert.match(r.stderr, /^error\[InvalidInput\]: /, context);
  assert.doesNotMatch(r.stderr, /error\[Internal\]|^\s+at /m, `no crash or stack trace: ${context}`);
  assert.doesNotMatch(r.stderr, /^\s*[→↩] /m, `no step ran: ${context}`);
  const place = c.placeless ? '(?!\\d)' : c.line === undefined ? '\\d+(:\\d+)?: ' : `${c.line}:\\d+: `;
  const where = new RegExp(`^(error\\[InvalidInput\\]: )?${escape(path)}:${place}`);
  const found = r.stderr.split('\n').some((l) => where.test(l) && l.includes(c.message));
  assert.ok(found, `expected a line matching ${where} with "${c.message}": ${context}`);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Runs apply (and plan, for the sample) on the file: refused, nothing changed, nothing injected ran. */
async function assertRejectedWithoutChange(path: string, c: BadInputCase): Promise<void> {
  const [apply, plan] = await Promise.all([
    molt(m, ['apply', '-f', path]),
    c.plan ? molt(m, ['plan', '-f', path]) : undefined,
  ]);
  assertRefused(apply, path, c, 'apply');
  if (plan) assertRefused(plan, path, c, 'plan');
  await assertUnchanged();
  assert.equal(existsSync(mark), false, 'no injected command ran');
}

test('the corpus base manifest is valid: plan shows the upgrade it stands for', async () => {
  const r = await molt(m, ['plan', '-f', place('valid.yaml')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stdout, /app\/victim: upgrade 1\.0\.0-1 → 1\.1\.0-1/);
  await assertUnchanged();
});

describe('every corpus file is refused with its place and changes nothing', { concurrency: 4 }, () => {
  for (const c of CASES) {
    test(`${c.file}: ${c.what}`, async () => {
      await assertRejectedWithoutChange(place(c.file), c);
    });
  }
});

describe('files made at test time are refused and change nothing', () => {
  test('a manifest larger than 1 MiB', async () => {
    const path = join(workDir, 'huge.yaml');
    const padding = `# ${'x'.repeat(78)}\n`.repeat(Math.ceil((1024 * 1024) / 80) + 100);
    writeFileSync(path, `${materialize('valid.yaml').toString()}${padding}`);
    await assertRejectedWithoutChange(path, {
      file: 'huge.yaml',
      what: '',
      message: 'larger than 1048576 bytes',
      placeless: true,
      plan: true,
    });
  });

  test('a directory instead of a file', async () => {
    const path = join(workDir, 'a-directory.yaml');
    mkdirSync(path);
    await assertRejectedWithoutChange(path, {
      file: 'a-directory.yaml',
      what: '',
      message: 'is a directory',
      placeless: true,
      plan: true,
    });
  });

  test('a file that does not exist', async () => {
    const path = join(workDir, 'missing.yaml');
    await assertRejectedWithoutChange(path, {
      file: 'missing.yaml',
      what: '',
      message: 'no such file',
      placeless: true,
      plan: true,
    });
  });
});

test('no app but the victim was ever recorded', async () => {
  const r = await molt(m, ['get', 'apps', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    JSON.parse(r.stdout).items.map((a: { metadata: { name: string } }) => a.metadata.name),
    [APP],
  );
});

after(() => console.log(`bad-input cases run: ${CASES.length} corpus files + 3 made at test time`));
