import assert from 'node:assert/strict';
import { it } from 'node:test';
import { REQUIRE_BANNER, withRequireWhereUsed } from '../../scripts/require-banner.ts';

it('the require banner goes where the file names require, and nowhere else', () => {
  const uses = 'var fs = require("node:fs");\n';
  const unused = 'var x = 1;\nexport { x };\n';
  assert.equal(withRequireWhereUsed(uses), `${REQUIRE_BANNER}\n${uses}`);
  assert.equal(withRequireWhereUsed(unused), unused);
  // A word that only contains "require" does not bring it.
  assert.equal(withRequireWhereUsed('var required = 1;\n'), 'var required = 1;\n');
});
