/**
 * The digest an operation runs, locally: the registry digest the image was pulled (or pushed)
 * by — the RepoDigests entry of the reference's repository — else the image ID. The reference
 * that runs exactly that content: `repo@digest`, or the image ID for an image that never was in
 * a registry.
 */
import type { ImageObservation } from '../core/model.ts';
import { repositoryOf } from '../engines/registry/reference.ts';

/** The digest and an exact reference of `image` (as inspected). */
export function imageDigest(ref: string, image: ImageObservation): { digest: string; ref: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { digest: ref.slice(at + 1), ref };
  const repo = repositoryOf(ref);
  const entry = image.repoDigests?.find((d) => d.slice(0, d.lastIndexOf('@')) === repo);
  if (entry) return { digest: entry.slice(entry.lastIndexOf('@') + 1), ref: entry };
  const id = image.id.startsWith('sha256:') ? image.id : `sha256:${image.id}`;
  return { digest: id, ref: id.slice('sha256:'.length) };
}
