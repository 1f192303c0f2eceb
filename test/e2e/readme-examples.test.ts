/**
 * Every example in README.md, taken from README.md itself, against a real engine (this file's
 * private Podman), so that a documentation example can never again be refused (issues 17, 20).
 *
 * What happens to a fenced block depends on its language and on an optional marker, an HTML
 * comment on the line right before the fence (blank lines between are allowed):
 *
 *   ```yaml  (no marker)   parsed by molt's manifest parser, then applied with `molt apply -f`
 *                           (`molt task apply -f` for UpgradeTask/Inventory): exit 0 expected.
 *                           The images it names are built first, offline, like the demo does
 *                           (IMAGE_BUILDERS below: an image the table cannot build fails the test).
 *   <!-- readme-test: parse: REASON -->
 *   ```yaml                 a partial snippet or a field reference with placeholder values:
 *                           only parsed (every document must still be valid).
 *   ```sh    (no marker)   every line run with bash from a directory that looks like the
 *                           repository (bin/, src/, examples/); `# …` comments stripped; exit 0
 *                           expected (`molt plan`: 0 or 2, "changes pending").
 *   <!-- readme-test: skip: REASON -->
 *   ```sh                   not run (set-up, a cluster, a script fragment); the reason is required.
 *   ```      (no language) text (a directory tree…): not checked.
 *
 * Any other language, a marker the block's language does not take, or a marker not followed
 * by a fence fails the test. The one liberty taken: each 10.90.X.0/24 network (and its
 * addresses) in what is applied or run is moved to a /24 of this file's own, so parallel test
 * files never share a bridge; everything else runs as written.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifests, type ManifestDocument } from '../../src/core/manifest.ts';
import { busyboxContext } from '../../src/examples/images.ts';
import { ledgerImage } from '../../src/examples/ledger.ts';
import { notesImage } from '../../src/examples/notes.ts';
import { harnessWaitMs, moltLimitMs } from '../command-limit.ts';
import { run, startPodman, type PodmanHarness } from './harness.ts';
import { kvImage } from './kv-app.ts';
import { molt, moltEnv, moltProcessEnv, type MoltEnv } from './molt-cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = join(ROOT, 'README.md');
const ALL_KINDS = ['App', 'ReleaseApp', 'Release', 'UpgradeTask', 'Inventory'] as const;

/** One fenced block of the README and what the test does with it. */
export interface ReadmeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  text: string;
  mode: 'apply' | 'parse' | 'run' | 'skip' | 'text';
  reason?: string;
}

const MARKER = /^<!--\s*readme-test:\s*(\w+)(?::\s*(.*?))?\s*-->$/;
/** The modes a marker may set, by block language. */
const MARKED_MODES: Record<string, ReadmeBlock['mode'][]> = { yaml: ['parse'], sh: ['skip'] };
const DEFAULT_MODE: Record<string, ReadmeBlock['mode']> = { yaml: 'apply', sh: 'run', '': 'text' };

/** The fenced blocks of a Markdown text with their modes; throws on a malformed marker or an unknown language. */
export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  let pending: { mode: string; reason?: string; line: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const marker = MARKER.exec(line.trim());
    if (marker) {
      if (pending) throw new Error(`README.md:${pending.line}: a readme-test marker not followed by a fence`);
      pending = { mode: marker[1] ?? '', line: i + 1, ...(marker[2] ? { reason: marker[2] } : {}) };
      continue;
    }
    const fence = /^```(\S*)\s*$/.exec(line);
    if (!fence) {
      if (pending && line.trim() !== '')
        throw new Error(`README.md:${pending.line}: a readme-test marker not followed by a fence`);
      continue;
    }
    const lang = fence[1] ?? '';
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`README.md:${i + 1}: a fence that is never closed`);
    if (!(lang in DEFAULT_MODE))
      throw new Error(`README.md:${i + 1}: a \`\`\`${lang} block; the README test knows yaml, sh and plain text`);
    let mode = DEFAULT_MODE[lang]!;
    let reason: string | undefined;
    if (pending) {
      if (!(MARKED_MODES[lang] ?? []).includes(pending.mode as ReadmeBlock['mode']))
        throw new Error(
          `README.md:${pending.line}: "readme-test: ${pending.mode}" does not apply to a \`\`\`${lang} block (allowed: ${(MARKED_MODES[lang] ?? []).join(', ') || 'none'})`,
        );
      if (!pending.reason)
        throw new Error(`README.md:${pending.line}: "readme-test: ${pending.mode}" needs a reason after a colon`);
      mode = pending.mode as ReadmeBlock['mode'];
      reason = pending.reason;
      pending = undefined;
    }
    blocks.push({
      line: i + 1,
      lang,
      text: lines.slice(i + 1, end).join('\n') + '\n',
      mode,
      ...(reason ? { reason } : {}),
    });
    i = end;
  }
  if (pending) throw new Error(`README.md:${pending.line}: a readme-test marker not followed by a fence`);
  return blocks.map((b, i) =>
    i === 0 && b.lang === 'sh' && b.mode === 'run' ? { ...b, mode: 'skip', reason: OPENING } : b,
  );
}

/**
 * The README opens with exactly its two commands (set-up + demo, the whole test suite): the
 * first sh block is never run here — the test suite is what runs this test.
 */
const OPENING = "the README's opening commands: set-up (installs Debian packages as root) and the whole test suite";

/** How the test builds the images README examples name, by repository (like the demo: busybox-static plus files). */
const IMAGE_BUILDERS: Record<string, (h: PodmanHarness, tag: string, version: string) => Promise<unknown>> = {
  'localhost/notes': (h, tag, v) => h.engine.buildImage(tag, busyboxContext(notesImage(v))),
  'localhost/ledger': (h, tag, v) => h.engine.buildImage(tag, busyboxContext(ledgerImage(v))),
  'localhost/kvstore': (h, _tag, v) => kvImage(h, v, {}, 'localhost/kvstore'),
};

let h: PodmanHarness;
let m: MoltEnv;
let work: string;
const subnets = new Map<string, string>();
const blocks = readmeBlocks(readFileSync(README, 'utf8'));

/** The text with every 10.90.X.* address moved to this file's own /24 for X. */
function ownSubnets(text: string): string {
  return text.replace(/\b10\.90\.(\d+)\.(\d+)/g, (all, third: string, fourth: string) => {
    if (!subnets.has(third)) subnets.set(third, h.freeSubnet().split('.')[2] ?? '');
    return `10.90.${subnets.get(third)}.${fourth}`;
  });
}

before(async () => {
  h = await startPodman();
  m = moltEnv(h);
  // A directory that looks like the repository to the README's commands, with the example
  // manifests' networks moved to this file's subnets.
  work = join(m.dir, 'repo');
  mkdirSync(join(work, 'examples'), { recursive: true });
  for (const dir of ['bin', 'src', 'node_modules']) symlinkSync(join(ROOT, dir), join(work, dir));
  symlinkSync(join(ROOT, 'examples/build-images'), join(work, 'examples/build-images'));
  for (const example of ['notes', 'ledger']) {
    mkdirSync(join(work, 'examples', example));
    for (const f of readdirSync(join(ROOT, 'examples', example))) {
      if (f.endsWith('.yaml'))
        writeFileSync(
          join(work, 'examples', example, f),
          ownSubnets(readFileSync(join(ROOT, 'examples', example, f), 'utf8')),
        );
      else if (f.endsWith('.md')) copyFileSync(join(ROOT, 'examples', example, f), join(work, 'examples', example, f));
    }
  }
});
after(async () => h?.stop());

test("the README test's block conventions: markers set modes, bad markers and unknown languages are refused", () => {
  const md =
    '# x\n<!-- readme-test: parse: a snippet -->\n\n```yaml\na: 1\n```\n```sh\nls\n```\n<!-- readme-test: skip: a cluster -->\n```sh\nkubectl get pods\n```\n```\ntree\n```\n';
  assert.deepEqual(
    readmeBlocks(md).map((b) => [b.line, b.lang, b.mode, b.reason ?? '']),
    [
      [4, 'yaml', 'parse', 'a snippet'],
      [7, 'sh', 'run', ''],
      [11, 'sh', 'skip', 'a cluster'],
      [14, '', 'text', ''],
    ],
  );
  assert.equal(
    readmeBlocks('# m\n\n```sh\nnpm run demo\nnpm test\n```\n')[0]?.mode,
    'skip',
    'the opening commands never run',
  );
  assert.throws(
    () => readmeBlocks('<!-- readme-test: skip -->\n```sh\nls\n```\n'),
    /README\.md:1: "readme-test: skip" needs a reason/,
  );
  assert.throws(
    () => readmeBlocks('<!-- readme-test: skip: no -->\n```yaml\na: 1\n```\n'),
    /does not apply to a ```yaml block/,
  );
  assert.throws(
    () => readmeBlocks('<!-- readme-test: parse: x -->\ntext\n```yaml\na: 1\n```\n'),
    /README\.md:1: a readme-test marker not followed by a fence/,
  );
  assert.throws(() => readmeBlocks('```json\n{}\n```\n'), /README\.md:1: a ```json block/);
});

test('README.md has manifests to apply and commands to run, and says why for every block it leaves out', () => {
  const count = (mode: ReadmeBlock['mode']) => blocks.filter((b) => b.mode === mode).length;
  assert.ok(
    count('apply') >= 1 && count('run') >= 2 && count('parse') >= 1,
    JSON.stringify(blocks.map((b) => [b.line, b.mode])),
  );
  for (const b of blocks.filter((x) => x.mode === 'skip' || x.mode === 'parse'))
    assert.ok((b.reason ?? '').length > 5, `README.md:${b.line}`);
});

for (const block of blocks.filter((b) => b.lang === 'yaml')) {
  test(`README.md:${block.line}: the manifest block is valid${block.mode === 'apply' ? ' and applies on Podman' : ' (parsed only: ' + block.reason + ')'}`, async () => {
    const docs = parseManifests(block.text, `README.md:${block.line}`, ALL_KINDS);
    assert.ok(docs.length > 0);
    if (block.mode !== 'apply') return;
    await buildImagesOf(docs, block.line);
    const file = join(m.dir, `readme-${block.line}.yaml`);
    writeFileSync(file, ownSubnets(block.text));
    const tasks = docs.some((d) => d.kind === 'UpgradeTask' || d.kind === 'Inventory');
    const r = await molt(m, tasks ? ['task', 'apply', '-f', file] : ['apply', '-f', file]);
    assert.equal(r.code, 0, `README.md:${block.line} was refused:\n${r.stderr}`);
    const apps = docs.filter((d) => d.kind === 'App' || d.kind === 'ReleaseApp').map((d) => d.manifest.metadata.name);
    for (const name of apps) {
      const got = await molt(m, ['get', 'app', name, '-o', 'json']);
      assert.equal(got.code, 0, got.stderr);
      const status = JSON.parse(got.stdout).status;
      assert.ok(status.phase === 'Running' || status.state === 'configured', `${name}: ${JSON.stringify(status)}`);
      assert.equal((await molt(m, ['delete', name, '--volumes'])).code, 0);
    }
  });
}

for (const block of blocks.filter((b) => b.lang === 'sh')) {
  const title = `README.md:${block.line}: the commands run as written${block.mode === 'skip' ? ` (skipped: ${block.reason})` : ''}`;
  test(title, { skip: block.mode === 'skip' ? block.reason : false }, async () => {
    const commands = block.text
      .split('\n')
      .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
      .filter((l) => l !== '');
    assert.ok(commands.length > 0);
    for (const command of commands) {
      const words = command.split(/\s+/);
      const limitMs = words[0] === 'bin/molt' ? moltLimitMs(words.slice(1)) : undefined;
      const r = await run(
        'bash',
        ['-c', ownSubnets(command)],
        moltProcessEnv(m),
        undefined,
        harnessWaitMs(limitMs, 600_000),
        { cwd: work, ...(limitMs ? { limitMs } : {}) },
      );
      const allowed = words[1] === 'plan' ? [0, 2] : [0];
      assert.ok(
        allowed.includes(r.code),
        `README.md:${block.line}: \`${command}\` exited ${r.code}:\n${r.stdout}\n${r.stderr}`,
      );
    }
  });
}

/** Builds every image the documents name, through IMAGE_BUILDERS. */
async function buildImagesOf(docs: ManifestDocument[], line: number): Promise<void> {
  const images = new Set<string>();
  for (const d of docs) {
    if (d.kind === 'App') images.add(d.manifest.spec.image);
    if (d.kind === 'Release') d.manifest.spec.roles.forEach((r) => images.add(r.image));
  }
  for (const image of images) {
    const at = image.lastIndexOf(':');
    const [repo, version] = [image.slice(0, at), image.slice(at + 1)];
    const build = IMAGE_BUILDERS[repo];
    assert.ok(
      build,
      `README.md:${line} names image ${image}, which the README test cannot build: add its repository to IMAGE_BUILDERS`,
    );
    await build(h, image, version);
  }
}
