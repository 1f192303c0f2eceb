/**
 * Upgrade scripts on pods (seeds 000/001, current dogu practice): the new version's
 * pre-upgrade script is read out of its ExecPod as a tar stream through exec, checked (a
 * regular file within scriptMaxBytes), and streamed as tar through exec into the OLD pod under
 * a fresh directory (core/scripts.ts preUpgradeDir: a retry never meets "file exists"), then
 * run there as the container's user with exactly (old, new) as its arguments. The
 * post-upgrade script runs by exec in the NEW pod; afterwards molt writes the startup gate's
 * `upgrade-done`.
 *
 * Exactly once, even when the operator dies mid-script: every run goes through a fixed
 * `sh -c` wrapper (the script's argv is passed as "$@", never interpolated into shell text)
 * that marks `started`, keeps the output, and records `exit-code` in the run's directory in
 * the pod. The run is journaled before it starts; a new leader that finds it reads the result
 * from the pod, or waits for it, instead of running the script a second time.
 * Images need `sh`, `tar` and `mkdir` (as for dogus).
 */
import { Readable } from 'node:stream';
import { ScriptError } from '../../core/errors.ts';
import { baseName, GATE_DIR, GATE_DONE, lastLines } from '../../core/scripts.ts';
import type { KubeClient } from '../../engines/kubernetes/index.ts';
import { execInPod } from '../../engines/kubernetes/index.ts';
import { readFirstEntry, tarOf } from '../../runner/tar.ts';
import { MAIN_CONTAINER } from './names.ts';

/** Where and how scripts run. */
export interface ScriptContext {
  client: KubeClient;
  namespace: string;
  signal: AbortSignal;
  log: (line: string) => void;
}

/** A script read from the new version's image. */
export interface FetchedScript {
  path: string;
  content: Buffer;
  mode: number;
}

/** One run of a script in a pod, as journaled before it starts. */
export interface ScriptRunRecord {
  script: 'pre-upgrade' | 'post-upgrade';
  member: string;
  podUid: string;
  /** The run's directory in the pod: the copied script (pre-upgrade), markers, output. */
  dir: string;
  /** The command the wrapper runs: [script path, old, new]. */
  argv: string[];
  startedAt: string;
  timeoutSeconds: number;
}

/** The wrapper: `sh -c WRAPPER molt-script DIR ARGV...` — marks, runs "$@", keeps output and exit code. */
const WRAPPER =
  'd=$1; shift; echo $$ >"$d/started"; "$@" >"$d/stdout" 2>"$d/stderr"; rc=$?; echo $rc >"$d/exit-code"; cat "$d/stdout"; cat "$d/stderr" >&2; exit $rc';
/** What a run's directory says: finished (its code), still running, started but gone (killed), or never started. */
const CHECK =
  'if [ -e "$1/exit-code" ]; then cat "$1/exit-code"; elif [ -e "$1/started" ]; then if kill -0 "$(cat "$1/started")" 2>/dev/null; then echo running; else echo lost; fi; else echo none; fi';
const MAX_OUTPUT = 256 * 1024;

/** Reads `path` out of the ExecPod (tar through exec) and checks it. */
export async function fetchScript(
  ctx: ScriptContext,
  execPod: string,
  path: string,
  maxBytes: number,
  image: string,
): Promise<FetchedScript> {
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  const res = await execInPod(
    ctx.client,
    ctx.namespace,
    execPod,
    'exec',
    ['tar', '-cf', '-', '-C', dir, baseName(path)],
    { maxStdoutBytes: maxBytes + 64 * 1024, signal: ctx.signal },
  );
  if (res.exitCode !== 0) {
    throw new ScriptError(
      'ScriptInvalid',
      `the pre-upgrade script ${path} cannot be read from image ${image}: ${res.stderr.trim() || `tar exited with ${res.exitCode}`}`,
      'Fix spec.upgrade.preUpgrade, or add the script (and tar) to the image.',
    );
  }
  if (res.truncated) throw tooLarge(path, image, maxBytes);
  const entry = await readFirstEntry(Readable.from([res.stdout]), maxBytes);
  if (entry.type !== 'file') {
    throw new ScriptError(
      'ScriptInvalid',
      `the pre-upgrade script ${path} in image ${image} is a ${entry.type}, not a regular file`,
      'Point the path at the script file itself, not at a link or directory.',
    );
  }
  if (!entry.content) throw tooLarge(path, image, maxBytes);
  return { path, content: entry.content, mode: entry.mode };
}

function tooLarge(path: string, image: string, max: number): ScriptError {
  return new ScriptError(
    'ScriptInvalid',
    `the pre-upgrade script ${path} in image ${image} is larger than ${max} bytes`,
    'Make the script smaller, or raise spec.upgrade.scriptMaxBytes.',
  );
}

/** Creates the run's directory in the pod and, for the pre-upgrade script, streams the script into it. */
export async function prepareRun(ctx: ScriptContext, run: ScriptRunRecord, script?: FetchedScript): Promise<void> {
  const mkdir = await execInPod(ctx.client, ctx.namespace, run.member, MAIN_CONTAINER, ['mkdir', '-p', run.dir], {
    signal: ctx.signal,
  });
  if (mkdir.exitCode !== 0) throw copyFailed(run, `mkdir -p ${run.dir}: ${mkdir.stderr.trim()}`);
  if (!script) return;
  const archive = await tarOf([
    { name: baseName(script.path), content: script.content, mode: (script.mode & 0o777) | 0o500 },
  ]);
  const untar = await execInPod(
    ctx.client,
    ctx.namespace,
    run.member,
    MAIN_CONTAINER,
    ['tar', '-xf', '-', '-C', run.dir],
    { stdin: archive, signal: ctx.signal },
  );
  if (untar.exitCode !== 0) throw copyFailed(run, `tar -xf - -C ${run.dir}: ${untar.stderr.trim()}`);
}

function copyFailed(run: ScriptRunRecord, detail: string): ScriptError {
  return new ScriptError(
    failureCode(run),
    `the ${run.script} script could not be prepared in pod ${run.member}: ${detail}`,
    'The image needs sh, mkdir and tar (as for dogus), and a writable /tmp.',
  );
}

function failureCode(run: ScriptRunRecord): 'PreUpgradeFailed' | 'PostUpgradeFailed' {
  return run.script === 'pre-upgrade' ? 'PreUpgradeFailed' : 'PostUpgradeFailed';
}

/** Runs the script through the wrapper and waits for it; returns its transcript or throws ScriptError. */
export async function runScript(ctx: ScriptContext, run: ScriptRunRecord): Promise<string> {
  const timeout = AbortSignal.timeout(Math.max(1, deadlineMs(run) - Date.now()));
  ctx.log(`${run.script}: ${run.argv.join(' ')} in pod ${run.member}`);
  let res;
  try {
    res = await execInPod(
      ctx.client,
      ctx.namespace,
      run.member,
      MAIN_CONTAINER,
      ['sh', '-c', WRAPPER, 'molt-script', run.dir, ...run.argv],
      { signal: AbortSignal.any([ctx.signal, timeout]), maxStdoutBytes: MAX_OUTPUT },
    );
  } catch (e) {
    if (timeout.aborted && !ctx.signal.aborted) throw timedOut(run, '');
    throw e;
  }
  return outcome(run, res.exitCode, res.stdout.toString('utf8'), res.stderr);
}

/**
 * Looks at a journaled run after an operator restart: the transcript when it finished, 'running'
 * while it still runs, 'none' when it never started, 'lost' when it was killed before it ended
 * (both: run it again). Throws ScriptError when it failed or is past its timeout.
 */
export async function checkRun(
  ctx: ScriptContext,
  run: ScriptRunRecord,
): Promise<{ transcript: string } | 'running' | 'none' | 'lost'> {
  const res = await execInPod(
    ctx.client,
    ctx.namespace,
    run.member,
    MAIN_CONTAINER,
    ['sh', '-c', CHECK, 'molt-check', run.dir],
    { signal: ctx.signal },
  );
  const state = res.stdout.toString('utf8').trim();
  if (state === 'none' || state === 'lost') return state;
  if (state === 'running') {
    if (Date.now() > deadlineMs(run)) throw timedOut(run, '');
    return 'running';
  }
  const read = async (file: string) =>
    (
      await execInPod(ctx.client, ctx.namespace, run.member, MAIN_CONTAINER, ['cat', `${run.dir}/${file}`], {
        signal: ctx.signal,
        maxStdoutBytes: MAX_OUTPUT,
      })
    ).stdout.toString('utf8');
  return { transcript: outcome(run, Number(state), await read('stdout'), await read('stderr')) };
}

function deadlineMs(run: ScriptRunRecord): number {
  return Date.parse(run.startedAt) + run.timeoutSeconds * 1000;
}

function timedOut(run: ScriptRunRecord, transcript: string): ScriptError {
  return new ScriptError(
    'ScriptTimeout',
    `the ${run.script} script ${run.argv[0]} did not finish within ${run.timeoutSeconds}s in pod ${run.member}`,
    'Make the script faster, or raise spec.upgrade.scriptTimeoutSeconds.',
    transcript,
  );
}

function outcome(run: ScriptRunRecord, exitCode: number, stdout: string, stderr: string): string {
  const transcript = `${stdout}${stderr.replace(/^(?=.)/gm, '! ')}`;
  if (exitCode === 0) return transcript;
  const tail = lastLines(stderr || stdout);
  const [path, from, to] = run.argv;
  throw new ScriptError(
    failureCode(run),
    `the ${run.script} script ${path} exited with code ${exitCode} in pod ${run.member}${tail ? `:\n${tail}` : ''}`,
    `Fix the ${run.script} script of ${to}; it ran as \`${path} ${from} ${to}\`.`,
    transcript,
  );
}

/** Writes the startup gate's `upgrade-done` marker into the new pod (its /.molt emptyDir). */
export async function openGate(ctx: ScriptContext, pod: string, from: string, to: string): Promise<void> {
  const marker = await tarOf([{ name: GATE_DONE, content: `${from} ${to}\n`, mode: 0o644 }]);
  const res = await execInPod(ctx.client, ctx.namespace, pod, MAIN_CONTAINER, ['tar', '-xf', '-', '-C', GATE_DIR], {
    stdin: marker,
    signal: ctx.signal,
  });
  if (res.exitCode !== 0) {
    throw new ScriptError(
      'PostUpgradeFailed',
      `the startup gate ${GATE_DIR}/${GATE_DONE} could not be written in pod ${pod}: ${res.stderr.trim()}`,
      'The new image needs tar to receive the gate marker.',
    );
  }
}
