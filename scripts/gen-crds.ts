/**
 * Writes molt's CustomResourceDefinitions, generated from the zod schemas (see
 * src/operator/crd/crds.ts), into deploy/crds/ and the Helm chart's crds/ directory.
 *
 *   node scripts/gen-crds.ts           # write the files
 *   node scripts/gen-crds.ts --check   # exit 1 when a committed file is stale
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrds } from '../src/operator/crd/crds.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Where the CRDs go: the kustomize base and the Helm chart. */
export const CRD_DIRS = ['deploy/crds', 'deploy/helm/molt/crds'];

const check = process.argv.includes('--check');
const files = await renderCrds();
let stale = 0;
for (const dir of CRD_DIRS) {
  mkdirSync(join(root, dir), { recursive: true });
  for (const [name, text] of files) {
    const path = join(root, dir, name);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (current === text) continue;
    if (check) {
      console.error(`stale: ${dir}/${name}`);
      stale++;
    } else {
      writeFileSync(path, text);
      console.error(`wrote ${dir}/${name}`);
    }
  }
}
if (stale) {
  console.error('run `node scripts/gen-crds.ts` and commit the result');
  process.exit(1);
}
