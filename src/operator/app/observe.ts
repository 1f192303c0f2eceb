/**
 * Reading the world of one App from the API server: the App object itself (validated with
 * molt's zod schema — the CRD's structural schema cannot express every rule), its
 * StatefulSet and records, its member pods and ExecPods. Only reads.
 */
import { namedVolumes } from '../../core/settings.ts';
import { localOnlyFields } from '../../core/local-only.ts';
import { appDocument } from '../../core/schema.ts';
import type { AppManifest } from '../../core/model.ts';
import type { KubeObject, Pod, ResourceApi, StatefulSet } from '../../engines/kubernetes/index.ts';
import { RESOURCES } from '../../engines/kubernetes/index.ts';
import { ANNOTATIONS, COMPONENT, LABELS, memberName, statefulSetName } from './names.ts';
import { specHash } from './template.ts';
import { copyClaimView, copyJobView, podView, stsView, type AppWorld, type Desired } from './world.ts';
import { COPY_COMPONENT } from './volume-copy.ts';

/** An App object as the API returns it. */
export interface AppObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** The longest app name: the StatefulSet's pods add "-N" and a revision-hash label must fit 63 characters. */
export const MAX_APP_NAME = 52;

/** The App's spec validated by molt's schema, plus the rules Kubernetes adds. */
export function desiredOf(app: AppObject): Desired {
  const name = app.metadata.name ?? '';
  if (app.spec && 'release' in app.spec) {
    return {
      ok: false,
      reason: 'ReleaseAppsNotSupported',
      message:
        'apps that run a Release (spec.release) are not yet reconciled on Kubernetes; use an inline app (spec.image)',
    };
  }
  const doc = {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name, labels: app.metadata.labels ?? {} },
    spec: app.spec,
  };
  const parsed = appDocument().safeParse(doc);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) =>
        `${i.path.map(String).join('.')}: ${i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message}`,
    );
    return { ok: false, reason: 'InvalidSpec', message: problems.join('; ') };
  }
  const manifest = parsed.data as AppManifest;
  if (name.length > MAX_APP_NAME)
    return {
      ok: false,
      reason: 'InvalidSpec',
      message: `metadata.name is longer than ${MAX_APP_NAME} characters (its pods and revisions need the rest of 63)`,
    };
  const badVolume = namedVolumes(manifest.spec.volumes).find(
    (v) => !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(v.name),
  );
  if (badVolume)
    return {
      ok: false,
      reason: 'InvalidSpec',
      message: `spec.volumes: "${badVolume.name}" must be a DNS label on Kubernetes (lowercase letters, digits, "-"): it names the volume claim`,
    };
  const localOnly = localOnlyFields(manifest.spec);
  if (localOnly.length)
    return {
      ok: false,
      reason: 'InvalidSpec',
      message: localOnly.map((f) => `spec.${f.path.join('.')}: ${f.message}`).join('; '),
    };
  return { ok: true, manifest, hash: specHash(manifest.spec) };
}

/** Reads everything one pass needs. */
export async function observe(api: ResourceApi, app: AppObject, signal?: AbortSignal): Promise<AppWorld> {
  const name = app.metadata.name ?? '';
  const namespace = app.metadata.namespace ?? 'default';
  const [sts, pods, jobs, claims] = await Promise.all([
    api.get<StatefulSet>(RESOURCES.statefulsets, namespace, statefulSetName(name), signal),
    api.list<Pod>(RESOURCES.pods, namespace, { labelSelector: `${LABELS.app}=${name}` }, signal),
    api.list<KubeObject>(
      RESOURCES.jobs,
      namespace,
      { labelSelector: `${LABELS.app}=${name},${LABELS.component}=${COPY_COMPONENT.job}` },
      signal,
    ),
    api.list<KubeObject>(
      RESOURCES.pvcs,
      namespace,
      { labelSelector: `${LABELS.app}=${name},${LABELS.component}=${COPY_COMPONENT.claim}` },
      signal,
    ),
  ]);
  // An inline app has one member; its StatefulSet is at 0 replicas only while the member is held for a restore.
  const replicas = sts ? Math.max(sts.spec?.replicas ?? 1, 1) : 0;
  const byName = new Map(
    pods.items
      .filter((p) => p.metadata.labels?.[LABELS.component] === COMPONENT.member)
      .map((p) => [p.metadata.name ?? '', p]),
  );
  const members = Array.from({ length: replicas }, (_, i) => replicas - 1 - i).map((ordinal) => {
    const podName = memberName(statefulSetName(name), ordinal);
    const pod = byName.get(podName);
    return pod ? { name: podName, ordinal, pod: podView(pod) } : { name: podName, ordinal };
  });
  const execPods = pods.items
    .filter((p) => p.metadata.labels?.[LABELS.component] === COMPONENT.execPod)
    .map((p) => {
      const v = podView(p, 'exec');
      return {
        name: v.name,
        hash: v.hash,
        running: v.running,
        terminating: v.terminating,
        ...(v.waitingReason ? { waitingReason: v.waitingReason } : {}),
        ...(v.waitingMessage ? { waitingMessage: v.waitingMessage } : {}),
      };
    });
  const world: AppWorld = {
    now: Date.now(),
    app: {
      name,
      namespace,
      generation: app.metadata.generation ?? 0,
      deleting: app.metadata.deletionTimestamp !== undefined,
    },
    desired: desiredOf(app),
    members,
    execPods,
    copyJobs: jobs.items.map((j) => copyJobView(j, pods.items)).filter((j) => j !== undefined),
    copies: claims.items.map(copyClaimView).filter((c) => c !== undefined),
  };
  const rollbackTo = app.metadata.annotations?.[ANNOTATIONS.rollbackTo];
  if (rollbackTo) world.app.rollbackTo = rollbackTo;
  if (sts) world.sts = stsView(sts);
  return world;
}
