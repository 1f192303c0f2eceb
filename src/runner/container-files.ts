/**
 * Packing the files molt puts into a created container before its first start (secrets):
 * each file with its own mode and owner, and only the parent directories the container does
 * not have yet (an existing directory's mode and owner are never touched — think /tmp).
 */
import { tarStream } from './tar.ts';
import type { ContainerFile } from '../core/model.ts';

/** The missing ancestors of `path` (container-absolute), outermost first, given a predicate that says which exist. */
export async function missingParents(path: string, exists: (dir: string) => Promise<boolean>): Promise<string[]> {
  const parts = path.split('/').filter(Boolean).slice(0, -1);
  const missing: string[] = [];
  for (let i = 1; i <= parts.length; i++) {
    const dir = `/${parts.slice(0, i).join('/')}`;
    if (missing.length > 0 || !(await exists(dir))) missing.push(dir);
  }
  return missing;
}

/** A tar (to extract at "/") of `file` and its missing parent directories (0755, owned like the file). */
export async function fileArchive(file: ContainerFile, missingDirs: string[]): Promise<Buffer> {
  const p = (await tarStream()).pack();
  for (const dir of missingDirs)
    p.entry({ name: `${dir.slice(1)}/`, type: 'directory', mode: 0o755, uid: file.uid, gid: file.gid });
  p.entry({ name: file.path.slice(1), mode: file.mode, uid: file.uid, gid: file.gid }, file.content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
