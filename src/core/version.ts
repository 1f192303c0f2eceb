/**
 * Package versions: semantic versions with an optional dogu-style package release suffix.
 *
 * `1.2.3-4` is version 1.2.3, package release 4 (the dogu convention of seed 001): a purely
 * numeric single suffix is a release number, so 1.2.3-5 > 1.2.3-4 > 1.2.3. Any other suffix
 * is a semver pre-release (1.2.3-rc.1 < 1.2.3). Build metadata (`+…`) is not allowed: it
 * would make two different images compare equal.
 *
 * The grammar is strict on purpose: versions reach upgrade scripts as arguments and image
 * tags, so only `[0-9A-Za-z.-]` may appear.
 */
// semver for pre-releases only, loaded when one is met (semver-lazy.cjs).
import { compare as semverCompare, valid as semverValid } from './semver-lazy.cjs';

/** A parsed package version. */
export interface PackageVersion {
  raw: string;
  core: string;
  /** Dogu package release number; undefined when absent or when `prerelease` is set. */
  release?: number;
  prerelease?: string;
}

const VERSION_SYNTAX = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/** Parses a version; returns undefined when it is not `MAJOR.MINOR.PATCH[-SUFFIX]`. */
export function parseVersion(raw: string): PackageVersion | undefined {
  const m = VERSION_SYNTAX.exec(raw);
  if (!m) return undefined;
  const core = `${m[1]}.${m[2]}.${m[3]}`;
  const suffix = m[4];
  if (suffix === undefined) return { raw, core };
  if (/^\d+$/.test(suffix)) {
    if (suffix.length > 1 && suffix.startsWith('0')) return undefined;
    return { raw, core, release: Number(suffix) };
  }
  if (!semverValid(`${core}-${suffix}`)) return undefined;
  return { raw, core, prerelease: suffix };
}

/** Why a string is not a version, for error messages. */
export const VERSION_RULE =
  'a version is MAJOR.MINOR.PATCH with an optional -RELEASE number (dogu style, e.g. 1.2.3-4) or -PRERELEASE (e.g. 2.0.0-rc.1); only digits, letters, dots and dashes';

/** Orders two versions: negative when a < b, 0 when equal, positive when a > b. */
export function compareVersions(a: PackageVersion, b: PackageVersion): number {
  const byCore = compareCores(a.core, b.core);
  if (byCore !== 0) return byCore;
  const rank = (v: PackageVersion): number => (v.prerelease !== undefined ? 0 : v.release === undefined ? 1 : 2);
  const byKind = rank(a) - rank(b);
  if (byKind !== 0) return byKind;
  if (a.prerelease !== undefined && b.prerelease !== undefined) {
    return semverCompare(`${a.core}-${a.prerelease}`, `${b.core}-${b.prerelease}`);
  }
  return (a.release ?? 0) - (b.release ?? 0);
}

/**
 * Orders two MAJOR.MINOR.PATCH cores (as parseVersion checked them: digits, no leading zeros)
 * numerically, part by part — at any length: a longer number is the larger one.
 */
function compareCores(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < 3; i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    if (x.length !== y.length) return x.length < y.length ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Compares two version strings that are known to be valid (validated at the edge). */
export function compareVersionStrings(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) throw new Error(`internal: unvalidated version ${pa ? b : a}`);
  return compareVersions(pa, pb);
}
