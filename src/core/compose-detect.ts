/**
 * Whether a file is a Compose file, apart from core/compose.ts so that applying molt's own
 * manifests does not load the Compose converter (and does not parse the YAML twice).
 */
import { parseDocument } from 'yaml';

/** True when the text is a Compose file: a mapping with `services` and no apiVersion/kind. */
export function looksLikeCompose(text: string): boolean {
  // Without the word (or an escape that could spell it) there is no `services` key: no parse.
  if (!text.includes('services') && !text.includes('\\')) return false;
  try {
    const value = parseDocument(text, { uniqueKeys: false }).toJS({ maxAliasCount: 100 }) as unknown;
    return (
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      'services' in value &&
      !('apiVersion' in value) &&
      !('kind' in value)
    );
  } catch {
    return false;
  }
}
