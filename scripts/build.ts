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
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinWrapper, importedNames } from './builtin-imports.ts';
import { staleChunks } from './stale-chunks.ts';
import { withRequireWhereUsed } from './require-banner.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
// --outdir DIR: build elsewhere (the bundle test installs molt into a temporary directory).
const at = process.argv.indexOf('--outdir');
const outdir = at > 0 && process.argv[at + 1] ? resolve(process.argv[at + 1]!) : `${root}dist`;

let build: typeof import('esbuild').build;
try {
  ({ build } = await import('esbuild'));
} catch (e) {
  if (!process.argv.includes('--if-possible')) throw e;
  process.stderr.write(
    `molt build: esbuild is not installed (${(e as Error).message.split('\n')[0]}); molt will run from its sources\n`,
  );
  process.exit(0);
}
/**
 * Node's built-in modules are loaded with require(), not import: importing node:http as an ES
 * module makes Node build its ES facade, which reads every export — among them the lazy getters
 * that load Node's internal undici (fetch, WebSocket): ~50 ms of CPU and 12 MiB per run.
 */
const builtinsByRequire: import('esbuild').Plugin = {
  name: 'builtins-by-require',
  setup(b) {
    // One wrapper per importing file (its path after the "|"): a wrapper shared by several
    // lazily loaded parts would become a chunk of its own, one more module for Node to resolve
    // and link on every run (~0.35 ms each); a per-importer one stays inside its importer's chunk.
    // A dynamic import() takes the whole module (a wrapper of its own: "|*" after the importer);
    // static imports get just the names their file imports (builtin-imports.ts).
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'import-statement' || args.kind === 'dynamic-import'
        ? {
            path: `${args.path}|${relative(root, args.importer)}${args.kind === 'dynamic-import' ? '|*' : ''}`,
            namespace: 'builtin',
          }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => {
      const [id = '', importer = '', whole] = args.path.split('|');
      const names = whole ? undefined : importedNames(readFileSync(join(root, importer), 'utf8'), id);
      return { contents: builtinWrapper(id, names), loader: 'js' };
    });
  },
};

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
      // Only a dependency's require(): molt's own imports go through builtinsByRequire, whose
      // module must hold the real module (an ES import copies its exports).
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
await build({
  absWorkingDir: root,
  entryPoints: { molt: 'src/cli/main.ts' },
  outdir: fresh,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  plugins: [builtinsByRequire, lazyBuiltins, englishOnlyZod, yamlAsEsm],
  logLevel: 'warning',
});
// Some dependencies are CommonJS and require() Node's modules: each file that calls require gets
// one (require-banner.ts). Files move into place one by one (each rename is atomic) and old
// chunks stay a while: a molt running while the bundle is rebuilt still finds every chunk it
// imports lazily.
mkdirSync(join(outdir, 'chunks'), { recursive: true });
const written = new Set<string>();
for (const f of readdirSync(fresh, { recursive: true, withFileTypes: true }))
  if (f.isFile()) {
    const rel = relative(fresh, join(f.parentPath, f.name));
    writeFileSync(join(fresh, rel), asciiOnly(withRequireWhereUsed(readFileSync(join(fresh, rel), 'utf8'))));
    mkdirSync(dirname(join(outdir, rel)), { recursive: true });
    renameSync(join(fresh, rel), join(outdir, rel));
    written.add(f.name);
  }
rmSync(fresh, { recursive: true, force: true });
for (const name of staleChunks(join(outdir, 'chunks'), written, Date.now()))
  rmSync(join(outdir, 'chunks', name), { force: true });
