/**
 * The bundle's stand-ins for Node's built-ins (scripts/builtin-imports.ts): which names a file
 * imports, and the module that gives exactly those. test/e2e/bundle.test.ts runs the bundle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { builtinWrapper, importedNames } from '../../scripts/builtin-imports.ts';

test('the names a file imports from a built-in, across statements, aliases and lines', () => {
  const source = [
    "import { readFileSync, statSync as stat, type Stats } from 'node:fs';",
    "import type { WriteStream } from 'node:fs';",
    "import { join } from 'node:path';",
    'import {',
    '  existsSync,',
    '  mkdirSync,',
    "} from 'node:fs';",
    "import { promises } from 'node:fs/promises-not-this';",
  ].join('\n');
  assert.deepEqual(importedNames(source, 'node:fs'), ['readFileSync', 'statSync', 'existsSync', 'mkdirSync']);
  assert.deepEqual(importedNames(source, 'node:path'), ['join']);
});

test('a default import is the module itself; a namespace import or none needs the CommonJS wrapper', () => {
  assert.deepEqual(importedNames("import http, { request } from 'node:http';", 'node:http'), ['default', 'request']);
  assert.deepEqual(importedNames("import { default as fs } from 'node:fs';", 'node:fs'), ['default']);
  assert.equal(importedNames("import * as tls from 'node:tls';", 'node:tls'), undefined);
  assert.equal(importedNames("import { x } from 'node:os';\nimport * as os from 'node:os';", 'node:os'), undefined);
  assert.equal(importedNames("import 'node:fs';", 'node:fs'), undefined);
  assert.equal(importedNames("import type { Readable } from 'node:stream';", 'node:stream'), undefined);
});

test('the stand-in, run as the ES module it is, gives exactly the imported bindings of the real module', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'molt-builtin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const load = async (name: string, code: string) => {
    const file = join(dir, name);
    // The bundle's banner gives every chunk a require().
    writeFileSync(
      file,
      `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${code}`,
    );
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  };
  const fs = process.getBuiltinModule('node:fs');
  const named = await load('named.mjs', builtinWrapper('node:fs', ['default', 'readFileSync', 'existsSync']));
  assert.deepEqual({ ...named }, { default: fs, readFileSync: fs.readFileSync, existsSync: fs.existsSync });
  const whole = builtinWrapper('node:fs', undefined);
  assert.equal(whole, 'module.exports = require("node:fs");', 'a CommonJS wrapper, for esbuild to wrap');
});
