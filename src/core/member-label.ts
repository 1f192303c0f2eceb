/**
 * The labels that mark a Release's member apps (on their manifests and containers). Apart from
 * release.ts so that reading commands (`get apps`) find members without loading planning code.
 */
export const MEMBER_LABEL = {
  owner: 'dev.molt.owner',
  role: 'dev.molt.role',
  ordinal: 'dev.molt.ordinal',
  release: 'dev.molt.release',
} as const;
