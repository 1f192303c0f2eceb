/**
 * The banner that gives each bundle file a `require` (esbuild's CommonJS wrappers of molt's
 * dependencies call it for Node's built-ins), and its removal where nothing uses it: a command
 * loads ~40 chunks, and each banner builds a CommonJS loader (createRequire) for nothing.
 */
export const REQUIRE_BANNER =
  "import { createRequire as __moltRequire } from 'node:module'; const require = __moltRequire(import.meta.url);";

/** A bundle file without the require banner when nothing else in it names `require`. */
export function withoutUnusedRequire(text: string): string {
  if (!text.startsWith(REQUIRE_BANNER)) return text;
  const rest = text.slice(REQUIRE_BANNER.length);
  return /\brequire\b/.test(rest) ? text : rest.replace(/^\n/, '');
}
