/**
 * A bundle file as scripts/build.ts writes it and bundle-loader.ts runs it: one CommonJS module
 * wrapped in a function expression, so that the loader compiles the file's text as it is read
 * (no string built around it, which V8 would copy whole to flatten) and calls the result with
 * these arguments, in this order.
 */
export const BUNDLE_FILE_PARAMETERS = ['exports', 'require', 'module', '__moltImportMetaUrl'] as const;

/** A module's CommonJS code as a bundle file; the wrapper stays on the first line (stack traces keep line numbers). */
export function asBundleFile(code: string): string {
  return `(function (${BUNDLE_FILE_PARAMETERS.join(', ')}) {${code}\n})`;
}
