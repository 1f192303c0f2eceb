/**
 * The lifecycle commands: `molt describe app`, `molt stop`, `molt start`, `molt up`,
 * `molt systemd install` (the observation behind honest `get` output is in observe.ts).
 */
import { AppNotFoundError } from '../core/errors.ts';
import { startApp, stopApp, upApps, type UpResult } from '../runner/lifecycle.ts';
import { RunIntents } from '../store/intents.ts';
import { connectEngine, moltHome, openStore, runDeps, say, type GlobalOptions } from './context.ts';
import { observedRecords } from './observe.ts';
import { renderDescribe } from './describe.ts';
import { parseDuration } from './output.ts';
import { installUnit } from './systemd.ts';

/** `molt describe app NAME`. */
export async function describeCommand(
  resource: string,
  name: string,
  tail: number,
  opts: GlobalOptions,
): Promise<number> {
  if (!['app', 'apps'].includes(resource)) throw new AppNotFoundError(`${resource}/${name}`);
  const store = openStore(opts);
  try {
    const record = store.getApp(name);
    if (!record) throw new AppNotFoundError(name);
    const [observed] = await observedRecords(opts, store, [record], 'one');
    const containerId = observed!.status.container?.id;
    let logs: string | undefined;
    if (containerId) {
      logs = await connectEngine(opts)
        .then((e) => e.logs(containerId, Number.isInteger(tail) && tail > 0 ? tail : 20))
        .catch((e: unknown) => `(logs unavailable: ${e instanceof Error ? e.message : String(e)})`);
    }
    const ops = store.listOperations(name);
    process.stdout.write(
      renderDescribe({
        record: observed!,
        intent: new RunIntents(store).get(name),
        lastOperation: ops.at(-1),
        logs,
        tail,
      }),
    );
    return 0;
  } finally {
    store.close();
  }
}

/** `molt stop NAME`. */
export async function stopCommand(name: string, opts: GlobalOptions): Promise<number> {
  const deps = await runDeps(opts, undefined);
  try {
    process.stdout.write(`app/${name} stopped (${await stopApp(deps, name)})\n`);
    return 0;
  } finally {
    deps.dispose();
  }
}

/** `molt start NAME`. */
export async function startCommand(name: string, opts: GlobalOptions & { timeout: string }): Promise<number> {
  const deps = await runDeps(opts, parseDuration(opts.timeout));
  try {
    const r = await startApp(deps, name);
    process.stdout.write(
      `app/${name} ${r.action === 'none' ? 'running' : r.action === 'start' ? 'started' : 'recreated'} (${r.detail})\n`,
    );
    return 0;
  } finally {
    deps.dispose();
  }
}

/** `molt up`: exit 0 when every app that should run runs, 1 otherwise. */
export async function upCommand(opts: GlobalOptions & { timeout: string }): Promise<number> {
  const deps = await runDeps(opts, parseDuration(opts.timeout));
  try {
    say(`molt up: engine ${deps.engine.description}, home ${moltHome(opts)}`);
    const results = await upApps(deps, (r: UpResult) =>
      process.stdout.write(`app/${r.app} ${r.outcome}: ${r.detail}\n`),
    );
    if (results.length === 0) say('No apps installed.');
    return results.some(
      (r) => r.outcome === 'failed' || (r.outcome === 'skipped' && !/stopped on purpose/.test(r.detail)),
    )
      ? 1
      : 0;
  } finally {
    deps.dispose();
  }
}
