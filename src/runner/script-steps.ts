/**
 * The upgrade-script steps (seeds 000/001). FetchScripts reads the NEW version's scripts from
 * a helper container of its image before anything is touched; PreUpgrade copies the
 * pre-upgrade script into the OLD running container (fresh directory per attempt) and runs it
 * there as the container's user with exactly (old, new) as argv — never through a shell;
 * PostUpgrade runs in the new container and opens the startup gate (see core/scripts.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError, ScriptError } from '../core/errors.ts';
import { postUpgradeRetryDelayMs, retryPostUpgrade } from '../core/policy/index.ts';
import {
  baseName,
  declaredScripts,
  GATE_DIR,
  GATE_DONE,
  GATE_UPGRADE,
  lastLines,
  preUpgradeDir,
} from '../core/scripts.ts';
import { withHelper } from './helpers.ts';
import { manifestOf, requireOld, type StepContext, type StepResult } from './step-context.ts';
import { readFirstEntry, tarOf } from './tar.ts';

const NOTIFICATION_MAX_BYTES = 64 * 1024;

/** Reads the new version's scripts (and checks them) from a helper container of its image. */
export async function fetchScripts(ctx: StepContext): Promise<StepResult> {
  const manifest = manifestOf(ctx);
  if (ctx.op.plan.trigger !== 'apply') {
    // The older version's scripts were written for upgrading TO it, not for going back.
    return `upgrade scripts are not run when going back (${ctx.op.plan.trigger})`;
  }
  const image = await ctx.engine.inspectImage(manifest.spec.image);
  const scripts = declaredScripts(manifest, image?.labels ?? {});
  ctx.facts.scripts = scripts;
  if (!scripts.preUpgrade && !scripts.postUpgrade && !scripts.notification)
    return 'the new version declares no upgrade scripts';
  const max = manifest.spec.upgrade.scriptMaxBytes;
  await withHelper(ctx, 'scripts', { image: manifest.spec.image }, async (id) => {
    if (scripts.preUpgrade) {
      const entry = await readScript(ctx, id, scripts.preUpgrade, 'pre-upgrade', max);
      const dir = join(ctx.home, 'operations', String(ctx.op.id));
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, 'pre-upgrade');
      writeFileSync(file, entry.content, { mode: 0o600 });
      ctx.facts.preUpgradeFile = { file, bytes: entry.content.length, mode: entry.mode & 0o777 };
    }
    if (scripts.postUpgrade)
      await readScript(ctx, id, scripts.postUpgrade, 'post-upgrade', Number.MAX_SAFE_INTEGER, false);
    if (scripts.notification) {
      const note = await readScript(ctx, id, scripts.notification, 'upgrade notification', NOTIFICATION_MAX_BYTES);
      ctx.facts.notification = note.content.toString('utf8');
      ctx.log(
        `NOTICE from ${ctx.op.toVersion}:\n${ctx.facts.notification
          .trimEnd()
          .split('\n')
          .map((l) => `      ${l}`)
          .join('\n')}`,
      );
    }
  });
  const found = [
    scripts.preUpgrade && `pre-upgrade ${scripts.preUpgrade} (${ctx.facts.preUpgradeFile?.bytes} bytes)`,
    scripts.postUpgrade && `post-upgrade ${scripts.postUpgrade}`,
    scripts.notification && 'a notification',
  ];
  return `found ${found.filter(Boolean).join(', ')}`;
}

async function readScript(
  ctx: StepContext,
  helperId: string,
  path: string,
  what: string,
  maxBytes: number,
  wantContent = true,
): Promise<{ content: Buffer; mode: number }> {
  const image = manifestOf(ctx).spec.image;
  let stream;
  try {
    stream = await ctx.engine.getArchive(helperId, path, ctx.signal);
  } catch (e) {
    if (e instanceof EngineError && e.status === 404) {
      throw new ScriptError(
        'ScriptInvalid',
        `the ${what} script ${path} is missing from image ${image}`,
        'Fix the path (spec.upgrade or the image label) or add the file to the image.',
      );
    }
    throw e;
  }
  const entry = await readFirstEntry(stream, wantContent ? maxBytes : 0);
  if (entry.type !== 'file') {
    throw new ScriptError(
      'ScriptInvalid',
      `the ${what} ${path} in image ${image} is a ${entry.type}, not a regular file`,
      'Point the path at the script file itself, not at a link or directory.',
    );
  }
  if (wantContent && !entry.content) {
    throw new ScriptError(
      'ScriptInvalid',
      `the ${what} ${path} in image ${image} has ${entry.size} bytes, more than the limit of ${maxBytes}`,
      'Make the script smaller, or raise spec.upgrade.scriptMaxBytes.',
    );
  }
  return { content: entry.content ?? Buffer.alloc(0), mode: entry.mode };
}

/** Copies the pre-upgrade script into the old running container and runs it with (old, new). */
export async function preUpgrade(ctx: StepContext): Promise<StepResult> {
  const script = ctx.facts.preUpgradeFile;
  const path = ctx.facts.scripts?.preUpgrade;
  if (!script || !path) return 'no pre-upgrade script';
  const old = requireOld(ctx);
  const now = await ctx.engine.inspectContainer(old.container.id);
  if (!now?.running) {
    throw new ScriptError(
      'PreUpgradeFailed',
      `the old container ${old.container.name} is not running, so the pre-upgrade script cannot run in it`,
      `Start it (\`podman start ${old.container.name}\`) and apply again.`,
    );
  }
  const dir = preUpgradeDir(ctx.op.id, Date.now());
  const rel = dir.slice('/tmp/'.length);
  const tar = await tarOf([
    { name: `${rel}/`, mode: 0o755 },
    { name: `${rel}/${baseName(path)}`, content: readFileSync(script.file), mode: (script.mode & 0o777) | 0o500 },
  ]);
  await ctx.engine.putArchive(old.container.id, '/tmp', tar, ctx.signal);
  return runScript(
    ctx,
    'pre-upgrade',
    old.container.id,
    { declared: path, run: `${dir}/${baseName(path)}` },
    'PreUpgradeFailed',
  );
}

/** Runs the post-upgrade script in the new container (retrying when so configured), then opens the gate. */
export async function postUpgrade(ctx: StepContext): Promise<StepResult> {
  const path = ctx.facts.scripts?.postUpgrade;
  if (!path) return 'no post-upgrade script';
  const id = ctx.facts.newContainerId ?? '';
  const upgrade = manifestOf(ctx).spec.upgrade;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await runScript(ctx, 'post-upgrade', id, { declared: path, run: path }, 'PostUpgradeFailed');
      await ctx.engine.putArchive(
        id,
        '/',
        await tarOf([
          { name: `${GATE_DIR.slice(1)}/`, mode: 0o755 },
          {
            name: `${GATE_DIR.slice(1)}/${GATE_DONE}`,
            content: `${ctx.op.fromVersion} ${ctx.op.toVersion}\n`,
            mode: 0o644,
          },
        ]),
        ctx.signal,
      );
      return typeof result === 'string' ? result : { ...result, message: `${result.message}; startup gate opened` };
    } catch (e) {
      if (!retryPostUpgrade(upgrade, attempt) || ctx.signal.aborted || !(e instanceof ScriptError)) throw e;
      ctx.log(`post-upgrade attempt ${attempt}/${upgrade.postUpgradeAttempts} failed; retrying (onFailure: retry)`);
      await new Promise((r) => setTimeout(r, postUpgradeRetryDelayMs(attempt)));
    }
  }
}

/** Before the new container starts: the marker that tells its entrypoint to wait for post-upgrade. */
export async function openStartupGate(ctx: StepContext, containerId: string): Promise<void> {
  if (!ctx.facts.scripts?.postUpgrade || ctx.op.kind !== 'upgrade') return;
  const dir = GATE_DIR.slice(1);
  await ctx.engine.putArchive(
    containerId,
    '/',
    await tarOf([
      { name: `${dir}/`, mode: 0o755 },
      { name: `${dir}/${GATE_UPGRADE}`, content: `${ctx.op.fromVersion} ${ctx.op.toVersion}\n`, mode: 0o644 },
    ]),
    ctx.signal,
  );
}

/** Runs a script with exactly (old, new) as arguments, streaming its output; throws on failure. */
async function runScript(
  ctx: StepContext,
  what: string,
  containerId: string,
  paths: { declared: string; run: string },
  failure: 'PreUpgradeFailed' | 'PostUpgradeFailed',
): Promise<StepResult> {
  const path = paths.run;
  const where =
    paths.declared === paths.run ? paths.declared : `${paths.declared} (run as ${paths.run} in the old container)`;
  const from = ctx.op.fromVersion ?? '';
  const to = ctx.op.toVersion;
  const timeoutSeconds = manifestOf(ctx).spec.upgrade.scriptTimeoutSeconds;
  const timeout = AbortSignal.timeout(timeoutSeconds * 1000);
  let transcript = '';
  ctx.log(`${what}: ${path} ${from} ${to}`);
  let result;
  try {
    result = await ctx.engine.exec(containerId, [path, from, to], {
      signal: AbortSignal.any([ctx.signal, timeout]),
      onOutput: (stream, chunk) => {
        transcript += stream === 'stderr' ? chunk.replace(/^(?=.)/gm, '! ') : chunk;
        for (const line of chunk.trimEnd().split('\n')) ctx.log(`${what} ${stream === 'stderr' ? '!' : '|'} ${line}`);
      },
    });
  } catch (e) {
    if (timeout.aborted && !ctx.signal.aborted) {
      throw new ScriptError(
        'ScriptTimeout',
        `the ${what} script ${where} did not finish within ${timeoutSeconds}s`,
        'Make the script faster, or raise spec.upgrade.scriptTimeoutSeconds.',
        transcript,
      );
    }
    throw e;
  }
  if (result.exitCode !== 0) {
    const tail = lastLines(result.stderr || result.stdout);
    throw new ScriptError(
      failure,
      `the ${what} script ${where} exited with code ${result.exitCode}${tail ? `:\n${tail}` : ''}`,
      `Fix the ${what} script of ${to}; it ran as \`${path} ${from} ${to}\`.`,
      transcript,
    );
  }
  return { message: `${what} ${path} ${from} ${to} exited 0`, output: transcript };
}
