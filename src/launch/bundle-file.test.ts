import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Script } from 'node:vm';
import { asBundleFile, BUNDLE_FILE_PARAMETERS } from './bundle-file.ts';

it('a bundle file compiles to a function of its module arguments, line numbers kept', () => {
  const code =
    'exports.url = __moltImportMetaUrl;\nmodule.exports.dep = require("dep");\nexports.line = new Error().stack;';
  const file = asBundleFile(code);
  assert.equal(file.split('\n').length, code.split('\n').length + 1, 'the wrapper adds no line before the code');
  const run = new Script(file, { filename: '/dist/chunks/x.cjs' }).runInThisContext() as (...a: unknown[]) => void;
  const module = { exports: {} as Record<string, unknown> };
  const args: Record<(typeof BUNDLE_FILE_PARAMETERS)[number], unknown> = {
    exports: module.exports,
    require: (id: string) => `required ${id}`,
    module,
    __moltImportMetaUrl: 'file:///dist/chunks/x.cjs',
  };
  run(...BUNDLE_FILE_PARAMETERS.map((p) => args[p]));
  assert.equal(module.exports.url, 'file:///dist/chunks/x.cjs');
  assert.equal(module.exports.dep, 'required dep');
  assert.match(String(module.exports.line), /\/dist\/chunks\/x\.cjs:3:/);
});
