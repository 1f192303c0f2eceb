import assert from 'node:assert/strict';
import { it } from 'node:test';
import { REQUIRE_BANNER, withoutUnusedRequire } from '../../scripts/require-banner.ts';

it('the require banner stays where the file names require, and goes where it does not', () => {
  const uses = `${REQUIRE_BANNER}\nvar fs = require("node:fs");\n`;
  const unused = `${REQUIRE_BANNER}\nvar x = 1;\nexport { x };\n`;
  assert.equal(withoutUnusedRequire(uses), uses);
  assert.equal(withoutUnusedRequire(unused), 'var x = 1;\nexport { x };\n');
  assert.equal(withoutUnusedRequire('var y = 2;\n'), 'var y = 2;\n', 'a file without the banner is left alone');
  // A word that only contains "require" does not keep it.
  assert.equal(withoutUnusedRequire(`${REQUIRE_BANNER}\nvar required = 1;\n`), 'var required = 1;\n');
});
