/**
 * How the bundle (scripts/build.ts) stands in for Node's built-in modules in each importing file:
 * pure functions, tested in test/build/.
 */

/**
 * The names a file imports from a built-in (`import { a, b as c }`, `import d from`): undefined
 * when it takes the whole namespace (`import * as`), which only a CommonJS wrapper gives.
 */
export function importedNames(source: string, id: string): string[] | undefined {
  const names = new Set<string>();
  const from = new RegExp(`import\\s+(?!type\\s)([^;]*?)\\s+from\\s+['"]${id.replace(/[/]/g, '\\/')}['"]`, 'g');
  for (const [, clause = ''] of source.matchAll(from)) {
    if (clause.includes('*')) return undefined;
    const braces = /\{([^}]*)\}/.exec(clause);
    const defaultName = clause
      .replace(/\{[^}]*\}/, '')
      .replace(/,/g, '')
      .trim();
    if (defaultName) names.add('default');
    for (const part of braces?.[1]?.split(',') ?? []) {
      const name = part
        .trim()
        .split(/\s+as\s+/)[0]
        ?.trim();
      if (name && !name.startsWith('type ')) names.add(name);
    }
  }
  return names.size > 0 ? [...names] : undefined;
}

/**
 * The module standing for a built-in in one importer. With the importer's names known it is an
 * ES module of just those bindings, which esbuild hoists into the chunk: a call is a plain call.
 * A CommonJS wrapper instead gets esbuild's interop — a copy of every export of the built-in as a
 * getter (node:fs has ~100), made anew for each importer on each run (~3 % of `molt get apps`).
 */
export function builtinWrapper(id: string, names: string[] | undefined): string {
  const load = `require(${JSON.stringify(id)})`;
  if (!names) return `module.exports = ${load};`;
  const named = names.filter((n) => n !== 'default');
  return [
    `const builtin = ${load};`,
    ...(names.includes('default') ? ['export default builtin;'] : []),
    ...(named.length > 0 ? [`export const { ${named.join(', ')} } = builtin;`] : []),
  ].join('\n');
}
