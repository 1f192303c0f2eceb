/**
 * `molt pause NAME` / `molt resume NAME` on a cluster: the App's annotation `molt.dev/paused`
 * (operator/release/pause.ts). Pause sets it — the operator starts no further member; resume
 * removes it — the operator goes on, and a rollout a failure paused (onFailure: pause) retries
 * the failed member. Only apps that run a Release roll out member by member, so only they pause.
 */
import { MoltError } from '../core/errors.ts';
import { RESOURCES } from '../engines/kubernetes/index.ts';
import { PAUSED_ANNOTATION } from '../operator/release/template.ts';
import type { GlobalOptions } from './context.ts';
import { connect, type MoltObject } from './kube-connect.ts';
import { KubeAppNotFoundError } from './kube-errors.ts';

/** Pause was asked of an App that does not run a Release. */
export class NotPausableError extends MoltError {
  readonly code = 'NotPausable';
  constructor(name: string) {
    super(
      `app "${name}" runs an image (spec.image), not a Release: only a release app's rollout goes member by member and can pause`,
      'Pause and resume apps that name a Release (spec.release); an inline app upgrades as one step.',
    );
  }
}

/** Sets (pause) or removes (resume) the paused annotation; prints what the operator will do. */
export async function kubePauseCommand(name: string, paused: boolean, opts: GlobalOptions): Promise<number> {
  const t = await connect(opts);
  const app = await t.api.get<MoltObject>(RESOURCES.apps, t.namespace, name);
  if (!app) throw new KubeAppNotFoundError(name, t.namespace);
  if (typeof app.spec?.['release'] !== 'string') throw new NotPausableError(name);
  const was = app.metadata.annotations?.[PAUSED_ANNOTATION] === 'true';
  await t.api.mergePatch(RESOURCES.apps, t.namespace, name, {
    metadata: { annotations: { [PAUSED_ANNOTATION]: paused ? 'true' : null } },
  });
  const status = (app.status ?? {}) as { phase?: string; upgrade?: { cause?: string } };
  const line = paused
    ? was
      ? 'already paused'
      : status.upgrade
        ? 'pause requested: the rollout stops before its next member'
        : 'pause requested: no rollout is in flight; the next one stops before its first member'
    : !was
      ? 'not paused'
      : status.phase === 'Paused' && status.upgrade?.cause
        ? `resumed: the failed member is restarted once more (${status.upgrade.cause})`
        : 'resumed';
  process.stdout.write(`app/${name} ${line}\n`);
  return 0;
}
