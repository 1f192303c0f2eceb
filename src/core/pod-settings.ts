/**
 * Settings that only mean something on Kubernetes (the pod a member runs in), with
 * Kubernetes' own names and shapes so a kubectl user writes what they know:
 * `imagePullSecrets`, `serviceAccountName`, `nodeSelector`, `tolerations`,
 * `podSecurityContext` (the pod's `securityContext`) and `securityContext` (the container's).
 * Per-volume `size` and `storageClassName` are on the volumes. The local engine does not use
 * them (it pulls with the usual auth files, schedules nothing, sizes no volume), so one App
 * document serves both engines.
 */
import * as z from 'zod';
import { lazySchema } from './lazy-schema.ts';

const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
const id = lazySchema(() => z.number().int().min(0).max(2147483647));
/** A Kubernetes quantity such as 1Gi, 500Mi, 10G. */
export const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$/;

const seccompProfile = lazySchema(() =>
  z
    .strictObject({
      type: z.enum(['RuntimeDefault', 'Localhost', 'Unconfined']),
      localhostProfile: z.string().min(1).optional(),
    })
    .refine((p) => (p.type === 'Localhost') === (p.localhostProfile !== undefined), {
      message: 'localhostProfile is set exactly when type is Localhost',
    }),
);

const capability = lazySchema(() =>
  z.string().regex(/^[A-Z_]+$/, 'capabilities are names such as NET_BIND_SERVICE or ALL'),
);

/** The pod-level security context (Kubernetes PodSecurityContext). */
export const podSecurityContextSchema = lazySchema(() =>
  z.strictObject({
    runAsUser: id().optional(),
    runAsGroup: id().optional(),
    runAsNonRoot: z.boolean().optional(),
    fsGroup: id().optional(),
    fsGroupChangePolicy: z.enum(['OnRootMismatch', 'Always']).optional(),
    supplementalGroups: z.array(id()).optional(),
    seccompProfile: seccompProfile().optional(),
  }),
);

/** The container-level security context (Kubernetes SecurityContext). */
export const securityContextSchema = lazySchema(() =>
  z.strictObject({
    runAsUser: id().optional(),
    runAsGroup: id().optional(),
    runAsNonRoot: z.boolean().optional(),
    allowPrivilegeEscalation: z.boolean().optional(),
    readOnlyRootFilesystem: z.boolean().optional(),
    privileged: z.boolean().optional(),
    capabilities: z
      .strictObject({ add: z.array(capability()).optional(), drop: z.array(capability()).optional() })
      .optional(),
    seccompProfile: seccompProfile().optional(),
  }),
);

const toleration = lazySchema(() =>
  z
    .strictObject({
      key: z.string().regex(LABEL_KEY, 'must be a taint key').optional(),
      operator: z.enum(['Exists', 'Equal']).optional(),
      value: z.string().max(63).optional(),
      effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
      tolerationSeconds: z.number().int().optional(),
    })
    .refine((t) => t.operator !== 'Exists' || t.value === undefined, {
      message: 'a toleration with operator Exists has no value',
    }),
);

/**
 * The Kubernetes-only pod settings of an App, each built when first used (lazy-schema.ts:
 * a manifest's schema holds only the optional fields it names).
 */
export const podSettingsFields = {
  imagePullSecrets: lazySchema(() =>
    z.array(z.strictObject({ name: z.string().regex(DNS_SUBDOMAIN, 'must be the name of a Secret') })).optional(),
  ),
  serviceAccountName: lazySchema(() =>
    z.string().regex(DNS_SUBDOMAIN, 'must be the name of a ServiceAccount').optional(),
  ),
  nodeSelector: lazySchema(() =>
    z.record(z.string().regex(LABEL_KEY, 'must be a node label key'), z.string().max(63)).optional(),
  ),
  tolerations: lazySchema(() => z.array(toleration()).optional()),
  podSecurityContext: lazySchema(() => podSecurityContextSchema().optional()),
  securityContext: lazySchema(() => securityContextSchema().optional()),
};

/** The per-volume settings only a cluster uses (spread into the volume schema). */
export const volumeKubeShape = {
  size: z.string().regex(QUANTITY, 'must be a size such as 1Gi or 500Mi').optional(),
  storageClassName: z.string().regex(DNS_SUBDOMAIN, 'must be the name of a StorageClass').optional(),
};

export type PodSecurityContext = z.infer<ReturnType<typeof podSecurityContextSchema>>;
export type SecurityContext = z.infer<ReturnType<typeof securityContextSchema>>;

/** The Kubernetes-only pod settings as they are in a validated spec. */
export interface PodSettings {
  imagePullSecrets?: { name: string }[];
  serviceAccountName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: z.infer<ReturnType<typeof toleration>>[];
  podSecurityContext?: PodSecurityContext;
  securityContext?: SecurityContext;
}
