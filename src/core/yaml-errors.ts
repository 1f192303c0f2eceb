/**
 * Where a YAML problem really is. The parser reports an unclosed quote or flow collection
 * where it gave up (often the end of the file); users need the place it was opened. Pure.
 */
import type { YAMLError } from 'yaml';

/** The offset to report for a parser error: the opening of what was never closed, when found. */
export function problemOffset(text: string, error: YAMLError): number {
  const at = error.pos[0];
  const msg = error.message;
  const quote = /Missing closing (["'])quote/.exec(msg)?.[1];
  if (quote) {
    const open = text.lastIndexOf(quote, at - 1);
    return open >= 0 ? open : at;
  }
  if (/^Flow sequence/.test(msg)) return unmatchedOpening(text, at, '[', ']') ?? at;
  if (/^Flow map/.test(msg)) return unmatchedOpening(text, at, '{', '}') ?? at;
  return at;
}

/** The last `open` before `end` that no `close` matches (quoted text is not skipped: a heuristic). */
function unmatchedOpening(text: string, end: number, open: string, close: string): number | undefined {
  let depth = 0;
  for (let i = Math.min(end, text.length) - 1; i >= 0; i--) {
    const c = text[i];
    if (c === close) depth++;
    else if (c === open) {
      if (depth === 0) return i;
      depth--;
    }
  }
  return undefined;
}
