/**
 * Schemas of multi-member documents (seed 003): `kind: Release` — what one version of a
 * package is, published by its vendor — and an App that runs a release with a number of
 * members per role.
 */
import * as z from 'zod';
import {
  API_VERSION,
  appMetadata,
  dnsName,
  metadataNamed,
  networkSchema,
  packageName,
  releaseName,
  roleSchema,
  versionString,
} from './schema.ts';
import { lazySchema } from './lazy-schema.ts';

/** Flags a role name given twice in `roles` ("role "db" is defined twice"). */
function uniqueRoleNames(verb: 'defined' | 'listed') {
  return (spec: { roles: { name: string }[] }, ctx: z.RefinementCtx): void => {
    const seen = new Set<string>();
    spec.roles.forEach((r, i) => {
      if (seen.has(r.name))
        ctx.addIssue({ code: 'custom', path: ['roles', i, 'name'], message: `role "${r.name}" is ${verb} twice` });
      seen.add(r.name);
    });
  };
}

/** A Release document: the catalog entry of one package version. */
export const releaseDocument = lazySchema(() =>
  z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Release'),
    metadata: metadataNamed(releaseName),
    spec: z
      .strictObject({
        package: packageName,
        version: versionString,
        /** Absent, true or false (seed 003): false seals live upgrades from this release. */
        upgradable: z.boolean().optional(),
        roles: z.array(roleSchema()).min(1, 'a release has at least one role'),
      })
      .superRefine(uniqueRoleNames('defined')),
  }),
);

/** How a release app's members are replaced. */
const upgradeStrategy = lazySchema(() =>
  z.strictObject({
    /** Members with an ordinal below this stay on the old release (a canary). @default 0 */
    partition: z.number().int().min(0).max(1000).default(0),
    /** Members of one role replaced at the same time. @default 1 */
    maxUnavailable: z.number().int().min(1).max(1000).default(1),
    /** What a failed member leads to: roll back every touched member, or pause. @default rollback */
    onFailure: z.enum(['rollback', 'pause']).default('rollback'),
  }),
);

/** An App that runs a Release. */
export const releaseAppDocument = lazySchema(() =>
  z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('App'),
    metadata: appMetadata,
    spec: z
      .strictObject({
        release: releaseName,
        roles: z
          .array(z.strictObject({ name: dnsName, members: z.number().int().min(1).max(100) }))
          .min(1, 'an app runs at least one role'),
        network: networkSchema,
        upgradeStrategy: upgradeStrategy().prefault({}),
      })
      .superRefine(uniqueRoleNames('listed')),
  }),
);

/** A validated Release. */
export type ReleaseManifest = z.output<ReturnType<typeof releaseDocument>>;
/** One role of a validated Release. */
export type RoleSpec = ReleaseManifest['spec']['roles'][number];
/** A validated App that runs a Release. */
export type ReleaseAppManifest = z.output<ReturnType<typeof releaseAppDocument>>;
