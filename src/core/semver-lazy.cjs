'use strict';
// semver's two functions molt uses, loaded on first use: requiring semver builds its ~80
// regular expressions (~9 M CPU instructions, 2 % of an upgrade), and most runs only compare
// MAJOR.MINOR.PATCH, which version.ts does itself. A CommonJS file because only require() loads
// a module synchronously on demand, both from the sources and in the bundle.
let compare;
let valid;
exports.compare = (a, b) => (compare ??= require('semver/functions/compare.js'))(a, b);
exports.valid = (version) => (valid ??= require('semver/functions/valid.js'))(version);
