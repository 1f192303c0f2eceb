/**
 * Upgrade scripts on pods (seeds 000/001, current dogu practice): the new version's
 * pre-upgrade script is read out of its ExecPod as a tar stream through exec, checked (a
 * regular file within scriptMaxBytes), and streamed as tar through exec into the OLD pod under
 * a fresh directory (core/scripts.ts preUpgradeDir: a retry never meets "file exists"), then
 * run there as the container's user with exactly (old, new) as argv. The post-upgrade script
 * runs by exec in the NEW pod; afterwards molt writes the startup gate's `upgrade-done`.
 * Both images need `tar` (as for dogus); the old one also `mkdir`.
 */
import { Readable } from 'node:stream';
import { ScriptError } from '../../core/errors.ts';
import { baseName, GATE_DIR, GATE_DONE, lastLines, preUpgradeDir } from '../../core/scripts.ts';
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

/** Reads `path` out of the ExecPod (tar through exec) and checks it. */
export async function fetchScript(ctx: ScriptContext, execPod: string, path: string, maxBytes: number, image: string): Promise<FetchedScript> {
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  const res = await execInPod(ctx.client, ctx.namespace, execPod, 'exec', ['tar', '-cf', '-', '-C', dir, baseName(path)], { maxStdoutBytes: maxBytes + 64 * 1024, signal: ctx.signal });
  if (res.exitCode !== 0) {
    throw new ScriptError('ScriptInvalid', `the pre-upgrade script ${path} cannot be read from image ${image}: ${res.stderr.trim() || `tar exited with ${res.exitCode}`}`, 'Fix spec.upgrade.preUpgrade, or add the script (and /bin/tar) to the image.');
  }
  if (res.truncated) throw tooLarge(path, image, maxBytes);
  const entry = await readFirstEntry(Readable.from([res.stdout]), maxBytes);
  if (entry.type !== 'file') {
    throw new ScriptError('ScriptInvalid', `the pre-upgrade script ${path} in image ${image} is a ${entry.type}, not a regular file`, 'Point the path at the script file itself, not at a link or directory.');
  }
  if (!entry.content) throw tooLarge(path, image, maxBytes);
  return { path, content: entry.content, mode: entry.mode };
}

function tooLarge(path: string, image: string, max: number): ScriptError {
  return new ScriptError('ScriptInvalid', `the pre-upgrade script ${path} in image ${image} is larger than ${max} bytes`, 'Make the script smaller, or raise spec.upgrade.scriptMaxBytes.');
}

/** What running one script needs. */
export interface ScriptRun {
  pod: string;
  from: string;
  to: string;
  timeoutSeconds: number;
}

/** Streams the script into the old pod under a fresh directory and runs it there with (from, to). */
export async function runPreUpgrade(ctx: ScriptContext, run: ScriptRun, script: FetchedScript, operation: number): Promise<string> {
  const dir = preUpgradeDir(operation, Date.now());
  const file = `${dir}/${baseName(script.path)}`;
  const mkdir = await execInPod(ctx.client, ctx.namespace, run.pod, MAIN_CONTAINER, ['mkdir', '-p', dir], { signal: ctx.signal });
  if (mkdir.exitCode !== 0) throw copyFailed(run, `mkdir -p ${dir}: ${mkdir.stderr.trim()}`);
  const archive = await tarOf([{ name: baseName(script.path), content: script.content, mode: (script.mode & 0o777) | 0o500 }]);
  const untar = await execInPod(ctx.client, ctx.namespace, run.pod, MAIN_CONTAINER, ['tar', '-xf', '-', '-C', dir], { stdin: archive, signal: ctx.signal });
  if (untar.exitCode !== 0) throw copyFailed(run, `tar -xf - -C ${dir}: ${untar.stderr.trim()}`);
  return runScript(ctx, 'pre-upgrade', run, file, `${script.path} (run as ${file} in the old pod)`, 'PreUpgradeFailed');
}

function copyFailed(run: ScriptRun, detail: string): ScriptError {
  return new ScriptError('PreUpgradeFailed', `the pre-upgrade script could not be copied into pod ${run.pod}: ${detail}`, 'The old image needs mkdir and tar (as for dogus), and a writable /tmp.');
}

/** Runs the post-upgrade script in the new pod, then opens the startup gate (when mounted). */
export async function runPostUpgrade(ctx: ScriptContext, run: ScriptRun, path: string, gate: boolean): Promise<string> {
  const transcript = await runScript(ctx, 'post-upgrade', run, path, path, 'PostUpgradeFailed');
  if (gate) {
    const marker = await tarOf([{ name: GATE_DONE, content: `${run.from} ${run.to}\n`, mode: 0o644 }]);
    const res = await execInPod(ctx.client, ctx.namespace, run.pod, MAIN_CONTAINER, ['tar', '-xf', '-', '-C', GATE_DIR], { stdin: marker, signal: ctx.signal });
    if (res.exitCode !== 0) {
      throw new ScriptError('PostUpgradeFailed', `the startup gate ${GATE_DIR}/${GATE_DONE} could not be written in pod ${run.pod}: ${res.stderr.trim()}`, 'The new image needs tar to receive the gate marker.');
    }
  }
  return transcript;
}

/** Runs argv [path, from, to]; the transcript has stderr lines prefixed "! ". Throws ScriptError on failure. */
async function runScript(ctx: ScriptContext, what: string, run: ScriptRun, path: string, where: string, failure: 'PreUpgradeFailed' | 'PostUpgradeFailed'): Promise<string> {
  const timeout = AbortSignal.timeout(run.timeoutSeconds * 1000);
  let transcript = '';
  ctx.log(`${what}: ${path} ${run.from} ${run.to} in pod ${run.pod}`);
  let res;
  try {
    res = await execInPod(ctx.client, ctx.namespace, run.pod, MAIN_CONTAINER, [path, run.from, run.to], {
      signal: AbortSignal.any([ctx.signal, timeout]),
      onOutput: (stream, chunk) => {
        const text = chunk.toString('utf8');
        transcript += stream === 'stderr' ? text.replace(/^(?=.)/gm, '! ') : text;
      },
    });
  } catch (e) {
    if (timeout.aborted && !ctx.signal.aborted) {
      throw new ScriptError('ScriptTimeout', `the ${what} script ${where} did not finish within ${run.timeoutSeconds}s`, 'Make the script faster, or raise spec.upgrade.scriptTimeoutSeconds.', transcript);
    }
    throw e;
  }
  if (res.exitCode !== 0) {
    const tail = lastLines(res.stderr || res.stdout.toString('utf8'));
    throw new ScriptError(failure, `the ${what} script ${where} exited with code ${res.exitCode}${tail ? `:\n${tail}` : ''}`, `Fix the ${what} script of ${run.to}; it ran as \`${path} ${run.from} ${run.to}\`.`, transcript);
  }
  return transcript;
}
