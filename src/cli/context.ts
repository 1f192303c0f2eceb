/**
 * What every command needs: the molt home, the store, the engine, progress output and the
 * interrupt/deadline signal. Opened lazily so `--help` and bad input never touch the engine.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { InterruptedError, InvalidInputError } from '../core/errors.ts';
import type { DocumentOf, ManifestKind, ParseOptions } from '../core/manifest.ts';
import type { ContainerEngine } from '../engines/types.ts';
import { Store } from '../store/store.ts';
import type { RunDeps } from '../runner/run-operation.ts';

/** Global options every command accepts. */
export interface GlobalOptions {
  engine?: string;
  home?: string;
  /** A kubeconfig file: act on that cluster through molt's custom resources (see kube-target.ts). */
  kubeconfig?: string;
  /** A context of the kubeconfig (implies cluster mode). */
  context?: string;
  /** The namespace on the cluster. @default the context's namespace */
  namespace?: string;
  /** Use the pod's service account (the UpgradeTask Job runs molt so). */
  inCluster?: boolean;
}

/**
 * True when the command must act on a cluster rather than the local engine. The cluster code
 * (and its client library, ~0.3 s to load) is imported only then: local commands start fast.
 */
export function isKubeMode(opts: GlobalOptions): boolean {
  return opts.kubeconfig !== undefined || opts.context !== undefined || opts.inCluster === true;
}

/** The molt home: --home, else $MOLT_HOME, else ~/.local/share/molt. */
export function moltHome(opts: GlobalOptions): string {
  return resolve(
    opts.home ?? process.env.MOLT_HOME ?? join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'molt'),
  );
}

/** Prints a progress/message line on stderr. */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Reads and validates a manifest file; a missing file is an input error, not a crash. The
 * schemas load here, with the first manifest: commands that read none start without them.
 */
export async function readManifests<K extends ManifestKind>(
  file: string,
  accept: readonly K[],
  options: ParseOptions = {},
): Promise<DocumentOf<K>[]> {
  return documentsOf(readInput(file), file, accept, options);
}

/** The text of a manifest or Compose file (`-`: stdin); a missing or unreadable file is an input error. */
export function readInput(file: string): string {
  try {
    return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InvalidInputError(
      [
        {
          file,
          message:
            code === 'ENOENT'
              ? 'no such file'
              : code === 'EISDIR'
                ? 'is a directory, not a file'
                : `cannot read: ${(e as Error).message}`,
        },
      ],
      'Pass the path of a manifest file with -f.',
    );
  }
}

/** The validated documents of a file's text: a Compose file's services as Apps, else molt's own kinds. */
export async function documentsOf<K extends ManifestKind>(
  text: string,
  file: string,
  accept: readonly K[],
  options: ParseOptions = {},
): Promise<DocumentOf<K>[]> {
  const [{ looksLikeCompose }, { parseWithoutJit }] = await Promise.all([
    import('../core/compose-detect.ts'),
    import('./jitless.ts'),
  ]);
  parseWithoutJit();
  if (accept.includes('App' as K) && looksLikeCompose(text))
    return composeDocuments<K>((await import('../core/compose.ts')).composeApps, text, file, options);
  const { parseManifests } = await import('../core/manifest.ts');
  return parseManifests(text, file, accept, options);
}

/** A Compose file's services as App documents (core/compose.ts); local engines only. */
function composeDocuments<K extends ManifestKind>(
  composeApps: typeof import('../core/compose.ts').composeApps,
  text: string,
  file: string,
  options: ParseOptions,
): DocumentOf<K>[] {
  if (options.namespaces || options.cluster) {
    throw new InvalidInputError(
      [{ file, message: 'a Compose file is applied to a local engine (Podman or Docker), not to a cluster' }],
      'Drop --kubeconfig/--context, or write App manifests for the cluster.',
    );
  }
  return composeApps(text, file).map(
    (a) =>
      ({ kind: 'App', file, line: a.line, column: a.column, manifest: a.manifest, locate: a.locate }) as DocumentOf<K>,
  );
}

/** Opens the store only (commands that do not need the engine). */
export function openStore(opts: GlobalOptions): Store {
  return Store.open(moltHome(opts));
}

/** Connects to the engine (starting Podman's service when none answers). */
export async function connectEngine(opts: GlobalOptions): Promise<ContainerEngine> {
  const { discoverEngine } = await import('../engines/docker/discover.ts');
  const { engine } = await discoverEngine({ engine: opts.engine, moltHome: moltHome(opts), log: say });
  return engine;
}

/**
 * Run dependencies with a signal that aborts on the first Ctrl-C/SIGTERM (the operation rolls
 * back) or at the deadline; a second Ctrl-C exits at once (the journal lets a re-run continue).
 */
export async function runDeps(
  opts: GlobalOptions,
  timeoutSeconds: number | undefined,
): Promise<RunDeps & { dispose: () => void }> {
  const store = openStore(opts);
  const engine = await connectEngine(opts);
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++interrupts > 1) {
      say(`${signal} again: exiting now; run the same command again to finish or roll back`);
      process.exit(130);
    }
    say(`${signal}: rolling back what is in flight (press Ctrl-C again to exit at once)`);
    controller.abort(new InterruptedError('Interrupted', `interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timer =
    timeoutSeconds === undefined
      ? undefined
      : setTimeout(
          () => controller.abort(new InterruptedError('Timeout', `not done within ${timeoutSeconds}s (--timeout)`)),
          timeoutSeconds * 1000,
        );
  timer?.unref();
  return {
    store,
    engine,
    log: say,
    signal: controller.signal,
    home: moltHome(opts),
    dispose: () => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      store.close();
    },
  };
}
