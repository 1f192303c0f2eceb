/**
 * Reading a release app's world from the API server: the App's spec (validated with molt's
 * zod schema), the target Release, and per role its StatefulSet (template release, installed
 * record, journal, last outcome) and pods. Only reads.
 */
import type { FailureCode } from '../../core/policy/index.ts';
import {
  releaseAppDocument,
  releaseDocument,
  type ReleaseAppManifest,
  type ReleaseManifest,
} from '../../core/release-schema.ts';
import type { KubeObject, Pod, ResourceApi, StatefulSet } from '../../engines/kubernetes/index.ts';
import { RESOURCES } from '../../engines/kubernetes/index.ts';
import { LABELS } from '../app/names.ts';
import type { AppObject } from '../app/observe.ts';
import {
  annotationJson,
  copyClaimView,
  copyJobView,
  podView,
  type CopyClaimView,
  type CopyJobView,
} from '../app/world.ts';
import { COPY_COMPONENT } from '../app/volume-copy.ts';
import type { RolePod } from './steps.ts';
import {
  RELEASE_ANNOTATIONS,
  releaseNamedBy,
  roleSetName,
  type InstalledRelease,
  type LastRollout,
  type RoleJournal,
} from './template.ts';

/** One role's StatefulSet as a pass sees it. */
export interface RoleSet {
  role: string;
  name: string;
  replicas: number;
  templateRelease: string;
  installed?: InstalledRelease;
  journal?: RoleJournal;
  last?: LastRollout;
  pods: Map<number, RolePod>;
}

/** What one pass of a release app sees. */
export interface ReleaseWorld {
  now: number;
  desired: { ok: true; manifest: ReleaseAppManifest } | { ok: false; reason: FailureCode; message: string };
  target?: ReleaseManifest;
  targetProblem?: { reason: FailureCode; message: string };
  /** The role StatefulSets that exist, by role name. */
  sets: Map<string, RoleSet>;
  /** The app's volume copy Jobs and copy claims (app/volume-copy.ts). */
  copyJobs: CopyJobView[];
  copies: CopyClaimView[];
}

function issues(e: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return e.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ');
}

/** The App's spec validated as a release app. */
export function desiredReleaseApp(app: AppObject): ReleaseWorld['desired'] {
  const doc = {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name: app.metadata.name ?? '', labels: app.metadata.labels ?? {} },
    spec: app.spec,
  };
  const parsed = releaseAppDocument().safeParse(doc);
  return parsed.success
    ? { ok: true, manifest: parsed.data }
    : { ok: false, reason: 'InvalidSpec', message: issues(parsed.error) };
}

/** A Release object from the API, validated; an error text when it is not valid. */
export function releaseOf(obj: { metadata: { name?: string }; spec?: unknown }): ReleaseManifest | string {
  const parsed = releaseDocument().safeParse({
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'Release',
    metadata: { name: obj.metadata.name ?? '' },
    spec: obj.spec,
  });
  return parsed.success ? parsed.data : issues(parsed.error);
}

/** Reads everything one pass needs. */
export async function observeRelease(api: ResourceApi, app: AppObject, signal?: AbortSignal): Promise<ReleaseWorld> {
  const name = app.metadata.name ?? '';
  const namespace = app.metadata.namespace ?? 'default';
  const desired = desiredReleaseApp(app);
  const world: ReleaseWorld = { now: Date.now(), desired, sets: new Map(), copyJobs: [], copies: [] };
  const releaseName = typeof app.spec?.['release'] === 'string' ? (app.spec['release'] as string) : '';
  const copyList = (type: typeof RESOURCES.jobs | typeof RESOURCES.pvcs | typeof RESOURCES.pods, component: string) =>
    api.list<KubeObject>(
      type,
      namespace,
      { labelSelector: `${LABELS.app}=${name},${LABELS.component}=${component}` },
      signal,
    );
  const [rel, stsList, pods, jobs, jobPods, claims] = await Promise.all([
    releaseName
      ? api.get<{ metadata: { name?: string }; spec?: unknown } & Pod>(
          RESOURCES.releases,
          undefined,
          releaseName,
          signal,
        )
      : Promise.resolve(undefined),
    api.list<StatefulSet>(
      RESOURCES.statefulsets,
      namespace,
      { labelSelector: `${LABELS.app}=${name},${LABELS.role}` },
      signal,
    ),
    api.list<Pod>(RESOURCES.pods, namespace, { labelSelector: `${LABELS.app}=${name},${LABELS.role}` }, signal),
    copyList(RESOURCES.jobs, COPY_COMPONENT.job),
    copyList(RESOURCES.pods, COPY_COMPONENT.job),
    copyList(RESOURCES.pvcs, COPY_COMPONENT.claim),
  ]);
  world.copyJobs = jobs.items.map((j) => copyJobView(j, jobPods.items as Pod[])).filter((j) => j !== undefined);
  world.copies = claims.items.map(copyClaimView).filter((c) => c !== undefined);
  if (!rel) world.targetProblem = { reason: 'ReleaseNotFound', message: `release ${releaseName} does not exist` };
  else {
    const r = releaseOf(rel);
    if (typeof r === 'string')
      world.targetProblem = { reason: 'InvalidRelease', message: `release ${releaseName}: ${r}` };
    else world.target = r;
  }
  for (const sts of stsList.items) {
    const role = sts.metadata.labels?.[LABELS.role] ?? '';
    if (sts.metadata.name !== roleSetName(name, role)) continue;
    const set: RoleSet = {
      role,
      name: sts.metadata.name,
      replicas: sts.spec?.replicas ?? 0,
      templateRelease: releaseNamedBy(sts.spec?.template.metadata),
      pods: new Map(),
    };
    const installed = annotationJson<InstalledRelease>(sts, RELEASE_ANNOTATIONS.installed);
    const journal = annotationJson<RoleJournal>(sts, RELEASE_ANNOTATIONS.rollout);
    const last = annotationJson<LastRollout>(sts, RELEASE_ANNOTATIONS.last);
    if (installed) set.installed = installed;
    if (journal) set.journal = journal;
    if (last) set.last = last;
    world.sets.set(role, set);
  }
  for (const p of pods.items) {
    const set = world.sets.get(p.metadata.labels?.[LABELS.role] ?? '');
    const ordinal = Number(
      p.metadata.labels?.['apps.kubernetes.io/pod-index'] ?? /-(\d+)$/.exec(p.metadata.name ?? '')?.[1],
    );
    if (!set || !Number.isInteger(ordinal) || p.metadata.name !== `${set.name}-${ordinal}`) continue;
    set.pods.set(ordinal, { ...podView(p), ordinal, release: releaseNamedBy(p.metadata) });
  }
  return world;
}
