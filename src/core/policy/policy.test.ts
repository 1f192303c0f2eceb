import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AppBusyError,
  AppNotFoundError,
  EngineUnavailableError,
  ImageUnavailableError,
  InterruptedError,
  InvalidInputError,
  MoltError,
  NoFreeAddressError,
  NotReadyError,
  RollbackIncompleteError,
  ScriptError,
  SnapshotError,
  UpgradeRefusedError,
} from '../errors.ts';
import {
  EndpointUnusableError,
  InventoryInUseError,
  InventoryNotFoundError,
  TaskBusyError,
  TaskImmutableError,
  TaskNotFoundError,
} from '../task-errors.ts';
import type { ProbeSpec } from '../model.ts';
import { roleOf } from '../release.ts';
import type { ReleaseManifest } from '../release-schema.ts';
import { UPGRADE_DEFAULTS } from '../schema.ts';
import { appManifest } from '../../testing/fixtures.ts';
import {
  FAILURES,
  isDowngradeWarning,
  isFailureCode,
  onMemberFailure,
  permitDowngrade,
  podFailure,
  postUpgradeRetryDelayMs,
  readyBudgetMs,
  retryPostUpgrade,
  upgradeFailureThreshold,
  type FailureCode,
  type PodState,
} from './index.ts';

const probe = (periodSeconds: number, failureThreshold: number): ProbeSpec => ({
  exec: ['true'],
  periodSeconds,
  failureThreshold,
  timeoutSeconds: 1,
});

/** The budget of one spec, as each engine computes it. */
interface BudgetCase {
  name: string;
  probe?: ProbeSpec;
  minReadySeconds: number;
  startupFailureThreshold?: number;
  /** Probe failures tolerated while upgrading (Podman/Docker: the number of attempts of AwaitReady). */
  upgradeThreshold: number | undefined;
  /** Kubernetes: milliseconds a member may take, normal and upgrading. */
  normalMs: number;
  upgradingMs: number;
}

const BUDGETS: BudgetCase[] = [
  {
    name: 'no probe: minReadySeconds plus slack',
    minReadySeconds: 2,
    upgradeThreshold: undefined,
    normalMs: 2_000 + 120_000,
    upgradingMs: 2_000 + 120_000,
  },
  {
    name: 'probe 2 s × 5: 10 × while upgrading',
    probe: probe(2, 5),
    minReadySeconds: 2,
    upgradeThreshold: 50,
    normalMs: 10_000 + 120_000,
    upgradingMs: 100_000 + 120_000,
  },
  {
    name: 'sub-second period counts as 1 s (Kubernetes runs whole seconds)',
    probe: probe(0.5, 30),
    minReadySeconds: 2,
    upgradeThreshold: 300,
    normalMs: 30_000 + 120_000,
    upgradingMs: 300_000 + 120_000,
  },
  {
    name: 'period rounded up',
    probe: probe(1.5, 4),
    minReadySeconds: 0,
    upgradeThreshold: 40,
    normalMs: 8_000 + 120_000,
    upgradingMs: 80_000 + 120_000,
  },
  {
    name: 'startupFailureThreshold replaces the 10 ×',
    probe: probe(1, 3),
    minReadySeconds: 2,
    startupFailureThreshold: 7,
    upgradeThreshold: 7,
    normalMs: 3_000 + 120_000,
    upgradingMs: 7_000 + 120_000,
  },
];

function releaseWith(c: BudgetCase): ReleaseManifest {
  const spec = appManifest().spec;
  return {
    apiVersion: 'molt.dev/v1alpha1',
    kind: 'Release',
    metadata: { name: 'r', labels: {} },
    spec: {
      package: spec.package,
      version: spec.version,
      roles: [
        {
          name: 'db',
          image: spec.image,
          env: {},
          volumes: [],
          probes: c.probe ? { startup: c.probe } : {},
          minReadySeconds: c.minReadySeconds,
          stopTimeoutSeconds: 10,
          upgrade: {
            ...UPGRADE_DEFAULTS,
            ...(c.startupFailureThreshold ? { startupFailureThreshold: c.startupFailureThreshold } : {}),
          },
        },
      ],
    },
  } as ReleaseManifest;
}

for (const c of BUDGETS) {
  test(`readiness budget, ${c.name}: the same on Podman/Docker, an inline app and a release role on Kubernetes`, () => {
    const spec = appManifest({
      probes: c.probe ? { startup: c.probe } : {},
      minReadySeconds: c.minReadySeconds,
      upgrade: {
        ...UPGRADE_DEFAULTS,
        ...(c.startupFailureThreshold ? { startupFailureThreshold: c.startupFailureThreshold } : {}),
      },
    }).spec;
    // Podman/Docker (runner/steps.ts AwaitReady): the probe attempts tolerated while upgrading.
    assert.equal(upgradeFailureThreshold(spec, spec.probes.startup), c.upgradeThreshold);
    // Kubernetes, an inline app (operator/app/decide.ts) and a release role (operator/release/reconciler.ts).
    const role = roleOf(releaseWith(c), 'db');
    for (const s of [spec, role]) {
      assert.equal(readyBudgetMs(s, false), c.normalMs);
      assert.equal(readyBudgetMs(s, true), c.upgradingMs);
    }
  });
}

const pod = (fields: Partial<PodState> = {}): PodState => ({
  name: 'p-0',
  phase: 'Running',
  ready: false,
  restarts: 0,
  ...fields,
});
const NOW = 1_000_000;

const POD_CASES: { name: string; pod: PodState; startedAt?: number; code: FailureCode | undefined }[] = [
  { name: 'ErrImagePull', pod: pod({ waitingReason: 'ErrImagePull' }), code: 'ImagePullFailed' },
  { name: 'ImagePullBackOff', pod: pod({ waitingReason: 'ImagePullBackOff' }), code: 'ImagePullFailed' },
  { name: 'InvalidImageName', pod: pod({ waitingReason: 'InvalidImageName' }), code: 'ImagePullFailed' },
  { name: 'ErrImageNeverPull', pod: pod({ waitingReason: 'ErrImageNeverPull' }), code: 'ImagePullFailed' },
  {
    name: 'CrashLoopBackOff',
    pod: pod({ waitingReason: 'CrashLoopBackOff', restarts: 3 }),
    code: 'ContainerCrashLooping',
  },
  {
    name: 'CreateContainerConfigError',
    pod: pod({ waitingReason: 'CreateContainerConfigError' }),
    code: 'ContainerConfigInvalid',
  },
  { name: 'CreateContainerError', pod: pod({ waitingReason: 'CreateContainerError' }), code: 'ContainerConfigInvalid' },
  { name: 'RunContainerError', pod: pod({ waitingReason: 'RunContainerError' }), code: 'ContainerConfigInvalid' },
  { name: 'a Failed pod', pod: pod({ phase: 'Failed' }), code: 'PodFailed' },
  { name: 'a restart, not ready', pod: pod({ restarts: 1 }), code: 'ContainerRestarted' },
  { name: 'a restart it recovered from (Ready)', pod: pod({ restarts: 1, ready: true }), code: undefined },
  { name: 'not ready past the budget', pod: pod(), startedAt: NOW - 61_000, code: 'ReadyTimeout' },
  { name: 'not ready within the budget', pod: pod(), startedAt: NOW - 59_000, code: undefined },
  { name: 'not ready, start unknown', pod: pod(), code: undefined },
  {
    name: 'ContainerCreating (waiting helps)',
    pod: pod({ waitingReason: 'ContainerCreating' }),
    startedAt: NOW,
    code: undefined,
  },
  { name: 'ready', pod: pod({ ready: true }), startedAt: NOW - 600_000, code: undefined },
];

test('pod failures: one classification for inline apps and release members, every code in the failure table', () => {
  for (const c of POD_CASES) {
    const f = podFailure(c.pod, c.startedAt, 60_000, NOW);
    assert.equal(f?.code, c.code, c.name);
    if (f) {
      assert.ok(isFailureCode(f.code), c.name);
      assert.match(f.message, /^pod p-0/, c.name);
    }
  }
});

test("every error class of the core carries a failure code, and its retryable flag is the table's", () => {
  const errors: MoltError[] = [
    new InvalidInputError([{ file: 'f', message: 'm' }]),
    new UpgradeRefusedError('DowngradeRefused', 'm', 'h'),
    new UpgradeRefusedError('ChangeRefused', 'm', 'h'),
    new UpgradeRefusedError('NamespaceSwitchRefused', 'm', 'h'),
    new UpgradeRefusedError('PackageChangeRefused', 'm', 'h'),
    new AppBusyError('a', 'b'),
    new AppNotFoundError('a'),
    new ImageUnavailableError('i', 'd'),
    new EngineUnavailableError('d'),
    new NotReadyError('ContainerExited', 'm', 'h'),
    new NotReadyError('ProbeFailed', 'm', 'h'),
    new NotReadyError('ContainerOOMKilled', 'm', 'h'),
    new InterruptedError('Interrupted', 'm'),
    new InterruptedError('Timeout', 'm'),
    new RollbackIncompleteError('a', 'd'),
    new NoFreeAddressError('n', 's'),
    new ScriptError('PreUpgradeFailed', 'm', 'h'),
    new ScriptError('PostUpgradeFailed', 'm', 'h'),
    new ScriptError('ScriptTimeout', 'm', 'h'),
    new ScriptError('ScriptInvalid', 'm', 'h'),
    new SnapshotError('m'),
    new TaskNotFoundError('t'),
    new TaskBusyError('t', 'h'),
    new TaskImmutableError('t', 'p'),
    new InventoryNotFoundError('i'),
    new InventoryInUseError('i', ['t']),
    new EndpointUnusableError('e', 'd'),
  ];
  for (const e of errors) {
    assert.ok(isFailureCode(e.code), `${e.name}: ${e.code} is a FailureCode`);
    assert.equal(
      e.retryable,
      FAILURES[e.code as FailureCode].retryable,
      `${e.name} (${e.code}): retryable as the table says`,
    );
  }
});

test('post-upgrade retry: only with onFailure retry, up to postUpgradeAttempts in all, waiting 1 s more each time', () => {
  assert.equal(retryPostUpgrade({ onFailure: 'rollback', postUpgradeAttempts: 3 }, 1), false);
  assert.deepEqual(
    [1, 2, 3].map((n) => retryPostUpgrade({ onFailure: 'retry', postUpgradeAttempts: 3 }, n)),
    [true, true, false],
  );
  assert.deepEqual([1, 2].map(postUpgradeRetryDelayMs), [1000, 2000]);
});

test('a failed member pauses the rollout only with onFailure pause; a rollback may downgrade and drops the warning', () => {
  assert.equal(onMemberFailure({ onFailure: 'pause' }), 'pause');
  assert.equal(onMemberFailure({ onFailure: 'rollback' }), 'rollback');
  const m = appManifest();
  const forced = permitDowngrade(m);
  assert.equal(forced.spec.upgradeConfig.forceUpgrade, true);
  assert.equal(m.spec.upgradeConfig.forceUpgrade, false, 'the input is not changed');
  assert.deepEqual({ ...forced.spec, upgradeConfig: m.spec.upgradeConfig }, m.spec, 'nothing else changes');
  assert.equal(isDowngradeWarning('DOWNGRADE 2 → 1 forced with forceUpgrade: …'), true);
  assert.equal(isDowngradeWarning('package namespace switches'), false);
});
