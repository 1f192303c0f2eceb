/**
 * Records what an operation's state means for its app: the installed manifest, the phase,
 * conditions and lastUpgrade. Written at every transition, also on failure.
 */
import { conditionsFor, phaseFor, type AppStatus, type LastUpgrade } from '../core/status.ts';
import { isFinal, type OperationState } from '../core/upgrade-machine.ts';
import type { Store } from '../store/store.ts';
import type { OperationFacts, OperationRecord } from '../store/types.ts';

/** Saves the app's status as of `state`. */
export function publishStatus(store: Store, op: OperationRecord, state: OperationState, facts: OperationFacts): void {
  const now = new Date().toISOString();
  const previous = store.getApp(op.app);
  // `molt upgrade CONTAINER` on a container that is no app: journaled (history), not recorded as an app.
  if (op.plan.inherit?.standalone && !previous) return;
  const base: AppStatus = previous?.status ?? { phase: 'Installing', conditions: [] };
  const succeeded = state.phase === 'Succeeded';
  const installed = succeeded ? op.plan.manifest : op.plan.previous;
  const old = op.plan.old;
  const lastUpgrade: LastUpgrade = {
    operation: op.id,
    kind: op.plan.trigger === 'apply' ? op.kind : 'rollback',
    ...(op.fromVersion !== undefined ? { from: op.fromVersion } : {}),
    to: op.toVersion,
    outcome: outcomeOf(state),
    ...(state.phase === 'Aborted' || state.phase === 'RolledBack' ? { error: state.cause } : {}),
    ...(state.phase === 'Succeeded' && state.warnings.length > 0 ? { warnings: state.warnings } : {}),
    startedAt: op.startedAt,
    ...(isFinal(state) ? { finishedAt: now } : {}),
  };
  const status: AppStatus = {
    phase: phaseFor(op.kind, state, installed !== undefined),
    conditions: conditionsFor(base.conditions, state, op.toVersion, now),
    lastUpgrade,
  };
  if (succeeded) {
    Object.assign(status, {
      installedVersion: op.toVersion,
      image: op.plan.manifest.spec.image,
      containerId: facts.newContainerId,
      ip: facts.ip,
      ...(facts.image ? { imageDigest: facts.image.digest } : {}),
    });
  } else if (installed && old) {
    Object.assign(status, {
      installedVersion: installed.spec.version,
      image: installed.spec.image,
      containerId: facts.recreatedOldId ?? old.container.id,
      ip: base.ip,
      ...(base.imageDigest ? { imageDigest: base.imageDigest } : {}),
    });
  }
  store.saveApp(op.app, installed, status);
}

function outcomeOf(state: OperationState): LastUpgrade['outcome'] {
  return state.phase === 'Progressing' || state.phase === 'RollingBack' ? 'InProgress' : state.phase;
}
