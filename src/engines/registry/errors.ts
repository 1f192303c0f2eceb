/** Failures of reading an image from a registry (registry/client.ts). */
import { MoltError } from '../../core/errors.ts';
import type { FailureCode } from '../../core/policy/failures.ts';

export type RegistryErrorCode = Extract<
  FailureCode,
  | 'ImageReferenceInvalid'
  | 'ImageNotFound'
  | 'RegistryUnauthorized'
  | 'RegistryUnavailable'
  | 'ManifestInvalid'
  | 'PlatformNotFound'
  | 'RegistryError'
>;

const HINTS: Record<RegistryErrorCode, string> = {
  ImageReferenceInvalid: 'Fix the image reference (HOST[:PORT]/PATH[:TAG][@sha256:…]).',
  ImageNotFound: 'Push the image, or fix the tag or digest in spec.image.',
  RegistryUnauthorized:
    'Give the App an imagePullSecret (kubernetes.io/dockerconfigjson) with credentials for this registry, or fix the one it names.',
  RegistryUnavailable:
    'Check that the registry answers from here (address, firewall, TLS: a custom CA goes in MOLT_REGISTRY_CA).',
  ManifestInvalid: 'The registry served a damaged or unknown manifest; push the image again.',
  PlatformNotFound: 'Push an image for this platform, or name a platform-specific digest in spec.image.',
  RegistryError: "See the registry's answer above.",
};

/** A registry did not give what an image reference names. */
export class RegistryError extends MoltError {
  readonly code: RegistryErrorCode;
  constructor(code: RegistryErrorCode, ref: string, detail: string, options?: { cause?: unknown }) {
    super(`image ${ref}: ${detail}`, HINTS[code], options);
    this.code = code;
  }
}
