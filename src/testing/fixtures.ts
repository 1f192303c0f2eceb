/** Builders of valid model objects for unit tests of pure logic (tests only). */
import type { AppManifest, ContainerObservation } from '../core/model.ts';
import { UPGRADE_DEFAULTS } from '../core/schema.ts';

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
