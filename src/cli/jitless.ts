/**
 * A CLI run parses each manifest once: compiling zod's fast path for it (new Function per object
 * schema) costs more CPU than it saves. The operator, which parses many, keeps it. A module of its
 * own, imported by name, so the bundle takes zod's `config` alone — `import('zod')` would keep
 * every export of zod (~40 M instructions per command that validates input).
 */
import { config } from 'zod';

export function parseWithoutJit(): void {
  config({ jitless: true });
}
