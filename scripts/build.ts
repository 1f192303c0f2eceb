/**
 * Bundles molt's CLI into dist/ with esbuild: dist/molt.mjs (commander and the command table)
 * plus dist/chunks/, one per lazily loaded part (the commands, the runner, zod schemas, the
 * Kubernetes client), so a command loads only what it runs. bin/molt runs the bundle while it
 * is newer than every source file, the sources otherwise (MOLT_FROM_SOURCES=1 forces them).
 * Run by scripts/setup.sh and by npm's `prepare` (npm install, npm install -g .). With
 * --if-possible (the prepare step) a missing esbuild — an install without dev dependencies —
 * is a note, not a failure: molt then runs from its sources.
 *
 * The chunks sit two levels below the repository root, like src/<dir>/, so code that finds the
 * repository's files from its own location (examples/, next to src/) finds them the same way.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { staleChunks } from './stale-chunks.ts';
import { asBundleFile } from '../src/launch/bundle-file.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
// --outdir DIR: build elsewhere (the bundle test installs molt into a temporary directory).
const at = process.argv.indexOf('--outdir');
const outdir = at > 0 && process.argv[at + 1] ? resolve(process.argv[at + 1]!) : `${root}dist`;

let build: typeof import('esbuild').build;
let transform: typeof import('esbuild').transform;
try {
  ({ build, transform } = await import('esbuild'));
} catch (e) {
  if (!process.argv.includes('--if-possible')) throw e;
  process.stderr.write(
    `molt build: esbuild is not installed (${(e as Error).message.split('\n')[0]}); molt will run from its sources\n`,
  );
  process.exit(0);
}
/**
 * node:child_process, required by commander at load for a feature molt does not use (executable
 * subcommands), is loaded on first use instead (~5 ms of CPU per run): a CommonJS consumer only
 * reads properties of it, which the proxy forwards.
 */
const LAZY_BUILTINS = new Set(['node:child_process', 'child_process']);
const lazyBuiltins: import('esbuild').Plugin = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /child_process$/ }, (args) =>
      // Only a dependency's require(): molt's own imports stay imports of the real module, which
      // the CommonJS step below turns into require() calls (no ES facade of a built-in is built).
      args.kind === 'require-call' &&
      args.namespace === 'file' &&
      args.importer.includes('/node_modules/') &&
      LAZY_BUILTINS.has(args.path)
        ? { path: args.path, namespace: 'lazy-builtin' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `let m; module.exports = new Proxy({}, { get: (_, k) => (m ??= process.getBuiltinModule(${JSON.stringify(args.path)}))[k] });`,
      loader: 'js',
    }));
  },
};

/**
 * zod re-exports its 60 message locales as `z.locales`; molt speaks English only (zod's default,
 * which zod configures itself), so the others are not bundled: they were half of zod's chunk, read
 * and hashed on every command that validates input (~2 % of an apply's instructions).
 */
const englishOnlyZod: import('esbuild').Plugin = {
  name: 'english-only-zod',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes('/node_modules/zod/')
        ? { path: join(dirname(args.importer), args.path), namespace: 'zod-locales' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

/**
 * yaml as the ES modules it also ships (its `default` export condition) rather than the CommonJS
 * build Node's condition picks: the same code of the same version, but the bundle links it like
 * molt's own modules — no CommonJS wrappers run and copied into ES namespaces at start-up, and
 * only the parts molt uses are kept (~4 % of an apply's instructions). The one difference, how
 * yaml prints a warning (console.warn, not process.emitWarning), molt does not depend on.
 */
const yamlAsEsm: import('esbuild').Plugin = {
  name: 'yaml-as-esm',
  setup(b) {
    b.onResolve({ filter: /^yaml$/ }, () => ({ path: join(root, 'node_modules/yaml/browser/index.js') }));
  },
};

/**
 * Makes a bundle file pure ASCII. esbuild escapes non-ASCII characters in code (its default
 * `charset`), but comments it keeps (inside functions) keep theirs — and one "—" makes V8 hold the
 * whole file as a two-byte string, which Node's compile cache then re-encodes to UTF-8 to hash it
 * and the scanner reads twice as wide (~2 % of an apply's instructions). In a comment the escape is
 * inert text.
 */
function asciiOnly(text: string): string {
  return text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// Built beside and swapped in, so a molt started meanwhile finds the old bundle or the new one.
const fresh = `${outdir}.new-${process.pid}`;
const built = await build({
  absWorkingDir: root,
  entryPoints: { molt: 'src/cli/main.ts' },
  outdir: fresh,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  // The entry sits with the chunks, named by its content like them (bundle-loader.ts).
  entryNames: 'chunks/[name]-[hash]',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.cjs' },
  plugins: [lazyBuiltins, englishOnlyZod, yamlAsEsm],
  metafile: true,
  logLevel: 'warning',
});
const entry = Object.entries(built.metafile.outputs).find(([, o]) => o.entryPoint === 'src/cli/main.ts')?.[0];
if (!entry) throw new Error('molt build: esbuild wrote no entry file');
// Each file becomes CommonJS wrapped as bundle-file.ts says, for the loader (bundle-loader.ts),
// which compiles it as a V8 script; dynamic imports become require() calls it serves. The files
// move into place one by one (each rename is atomic) and old chunks stay a while: a molt running
// while the bundle is rebuilt still finds every chunk it loads lazily. (A chunk's name hashes its
// ES module form: a change to this post-processing rewrites same-named files in place.) The
// build's id — the hash of every file as written — names its code caches.
mkdirSync(join(outdir, 'chunks'), { recursive: true });
const written = new Set<string>();
const buildHash = createHash('sha256');
for (const f of readdirSync(join(fresh, 'chunks')).sort()) {
  const file = join(fresh, 'chunks', f);
  const code = asciiOnly(asBundleFile(await asCommonJs(readFileSync(file, 'utf8'), file)));
  buildHash.update(f).update(code);
  writeFileSync(file, code);
  renameSync(file, join(outdir, 'chunks', f));
  written.add(f);
}
// The loader goes last: until it is in place, molts start the previous build's entry.
await build({
  absWorkingDir: root,
  entryPoints: ['src/launch/bundle-loader.ts'],
  outfile: join(fresh, 'molt.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node24',
  define: {
    MOLT_BUNDLE_ENTRY: JSON.stringify(relative(fresh, join(root, entry))),
    MOLT_BUILD_ID: JSON.stringify(buildHash.digest('hex').slice(0, 16)),
  },
  logLevel: 'warning',
});
renameSync(join(fresh, 'molt.cjs'), join(outdir, 'molt.cjs'));
rmSync(fresh, { recursive: true, force: true });
for (const name of staleChunks(join(outdir, 'chunks'), written, Date.now()))
  rmSync(join(outdir, 'chunks', name), { force: true });
// The ES module bundle of earlier builds.
rmSync(join(outdir, 'molt.mjs'), { force: true });

/** One bundle file as CommonJS, its `import.meta.url` the loader's argument. */
async function asCommonJs(code: string, file: string): Promise<string> {
  const out = await transform(code, {
    sourcefile: file,
    format: 'cjs',
    loader: 'js',
    platform: 'node',
    target: 'node24',
    define: { 'import.meta.url': '__moltImportMetaUrl' },
    supported: { 'dynamic-import': false },
    logLevel: 'warning',
  });
  return out.code;
}
