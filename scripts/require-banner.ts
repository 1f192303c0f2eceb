/**
 * The banner that gives a bundle file a `require` (esbuild's CommonJS wrappers of molt's
 * dependencies call it for Node's built-ins), put only where the file names `require`: a command
 * loads ~40 chunks, and each banner builds a CommonJS loader (createRequire).
 */
export const REQUIRE_BANNER =
  "import { createRequire as __moltRequire } from 'node:module'; const require = __moltRequire(import.meta.url);";

/** A bundle file with the require banner on top when it names `require`, else as it is. */
export function withRequireWhereUsed(text: string): string {
  return /\brequire\b/.test(text) ? `${REQUIRE_BANNER}\n${text}` : text;
}
