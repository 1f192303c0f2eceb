/** Builders of valid model objects for unit tests of pure logic (tests only). */
import type { AppManifest, ContainerObservation } from '../core/model.ts';
import { UPGRADE_DEFAULTS } from '../core/schema.ts';
import type { RolePod } from '../operator/release/steps.ts';
import type { RoleJournal } from '../operator/release/template.ts';

/** A valid App manifest; `spec` fields override the defaults. */
export function appManifest(spec: Partial<AppManifest['spec']> = {}, name = 'notes'): AppManifest {
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'App',
    metadata: { name, labels: {} },
    spec: {
      package: 'official/notes',
      version: '1.2.3-4',
      image: 'localhost/notes:1.2.3-4',
      env: {},
      volumes: [{ name: 'notes-data', mountPath: '/data' }],
      network: { name: 'molt' },
      probes: {},
      minReadySeconds: 2,
      stopTimeoutSeconds: 10,
      upgradeConfig: { forceUpgrade: false, allowNamespaceSwitch: false },
      upgrade: UPGRADE_DEFAULTS,
      ...spec,
    },
  };
}

/** A container observation; fields override the defaults. */
export function containerObservation(fields: Partial<ContainerObservation> = {}): ContainerObservation {
  return {
    id: 'c0ffee',
    name: 'notes',
    image: 'localhost/notes:1.2.3-4',
    imageId: 'sha256:old',
    running: true,
    status: 'running',
    exitCode: 0,
    oomKilled: false,
    cmd: ['/bin/notes'],
    entrypoint: undefined,
    env: [],
    labels: {},
    mounts: [{ type: 'volume', source: 'notes-data', destination: '/data', readOnly: false }],
    networks: { molt: '10.90.0.10' },
    requestedIps: { molt: '10.90.0.10' },
    ...fields,
  };
}

/** A pod of a release app's role (operator/release/steps.ts): `<set>-<ordinal>` on `release`, running and ready. */
export function rolePod(set: string, ordinal: number, release: string, extra: Partial<RolePod> = {}): RolePod {
  return {
    name: `${set}-${ordinal}`,
    uid: `u${ordinal}-${release}`,
    hash: '',
    version: '',
    terminating: false,
    phase: 'Running',
    ready: true,
    running: true,
    restarts: 0,
    createdAt: 0,
    ordinal,
    release,
    ...extra,
  };
}

/** A role's rollout journal from r1 to r2, nothing done yet; fields override. */
export function roleJournal(extra: Partial<RoleJournal> = {}): RoleJournal {
  return {
    state: 'Upgrading',
    from: 'r1',
    to: 'r2',
    startedAt: '',
    touched: [],
    hooked: [],
    reverted: [],
    roleHooked: false,
    times: {},
    ...extra,
  };
}
