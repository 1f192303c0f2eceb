/**
 * Lifecycle hooks of a release app, run exactly once per pod, flag and rollout — also when the
 * operator dies while one runs. A hook's run is named by a directory in the pod
 * (`/tmp/molt-hooks/<rollout>/<flag>`, the rollout id comes from the role's journal). One exec
 * does it all inside the pod: `mkdir` of that directory (atomic: only one caller ever creates
 * it) claims the run, and only the claimer starts the hook, detached, through a wrapper that
 * marks `started` (its PID), keeps the output and writes `exit-code`. Every caller then waits
 * for `exit-code`. A new leader that repeats the exec finds the directory and waits for the
 * running hook, or reads its result, instead of running it again. A hook whose process is gone
 * without an exit code (its container restarted) is reported as lost, never started again.
 * Images need `sh`, `mkdir`, `kill`, `sleep` and `tail` (as for dogus).
 */
import type { KubeClient } from '../../engines/kubernetes/index.ts';
import { execInPod } from '../../engines/kubernetes/index.ts';
import { MAIN_CONTAINER } from '../app/names.ts';

/** Where hooks' run directories live in a member's container. */
export const HOOK_ROOT = '/tmp/molt-hooks';

/** How long molt waits for one hook. @default 600 s */
export const HOOK_TIMEOUT_MS = 600_000;

/** The wrapper the claimer starts detached: `sh -c WRAPPER molt-hook DIR ARGV...`. */
const WRAPPER =
  'd=$1; shift; echo $$ >"$d/started"; "$@" >"$d/stdout" 2>"$d/stderr" </dev/null; echo $? >"$d/exit-code.tmp"; mv "$d/exit-code.tmp" "$d/exit-code"';

/**
 * Claim-or-wait, in the pod: `sh -c ONCE molt-hook-once DIR ARGV...`. Prints `rc=<code>` when
 * the hook ended (its stderr tail on stderr), or `lost` when its process is gone without a code.
 */
const ONCE = `d=$1; shift
mkdir -p "\${d%/*}" || exit 97
if mkdir "$d" 2>/dev/null; then
  sh -c '${WRAPPER}' molt-hook "$d" "$@" </dev/null >/dev/null 2>&1 &
  wait $! 2>/dev/null
fi
n=0
while [ ! -e "$d/exit-code" ]; do
  if [ -e "$d/started" ]; then
    kill -0 "$(cat "$d/started")" 2>/dev/null || { sleep 1; [ -e "$d/exit-code" ] || { echo lost; exit 0; }; }
  else
    n=$((n+1)); [ $n -gt 20 ] && { echo lost; exit 0; }
  fi
  sleep 1
done
echo "rc=$(cat "$d/exit-code")"
tail -c 2000 "$d/stderr" >&2`;

/** The outcome of one hook run. */
export interface HookRun {
  /** The hook's exit code; undefined when its run was lost. */
  exitCode: number | undefined;
  stderr: string;
}

/** The run directory of `flag` in the rollout that started at `startedAt`. */
export function hookDir(rolloutStartedAt: string, flag: string): string {
  return `${HOOK_ROOT}/${rolloutStartedAt.replace(/[^0-9]/g, '')}/${flag.replace(/^-+/, '')}`;
}

/** Runs `argv` once as the run `dir` in `pod` (or waits for the run that is already there). */
export async function runHookOnce(
  client: KubeClient,
  namespace: string,
  pod: string,
  dir: string,
  argv: string[],
  signal: AbortSignal,
): Promise<HookRun> {
  const timeout = AbortSignal.timeout(HOOK_TIMEOUT_MS);
  const res = await execInPod(
    client,
    namespace,
    pod,
    MAIN_CONTAINER,
    ['sh', '-c', ONCE, 'molt-hook-once', dir, ...argv],
    { signal: AbortSignal.any([signal, timeout]) },
  );
  const out = res.stdout.toString('utf8').trim();
  const rc = /^rc=(\d+)$/m.exec(out);
  if (rc) return { exitCode: Number(rc[1]), stderr: res.stderr };
  if (out === 'lost')
    return { exitCode: undefined, stderr: 'the hook process ended without an exit code (its container restarted?)' };
  return {
    exitCode: undefined,
    stderr: `the hook could not be started (exit ${res.exitCode}): ${res.stderr.trim() || out}`,
  };
}
