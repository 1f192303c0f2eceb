/**
 * molt's command line. Data goes to stdout, messages and progress to stderr.
 * Exit codes: 0 success, 1 error (nothing changed, or rolled back), 2 `plan` found changes,
 * 130 interrupted twice.
 */
import { Command, CommanderError } from 'commander';
import type { GlobalOptions } from './context.ts';
import { exitCodeOf, lazyModule } from './lazy.ts';
import { registerTaskCommands } from './task-cli.ts';
import { registerLifecycleCommands } from './lifecycle-cli.ts';
import { registerContainerCommands } from './container-cli.ts';
import { defineOnly, definesNamedCommand, neededCommands } from './only-command.ts';

// Each command's code is loaded when it runs (lazy.ts): `--version` and `--help` load none.
const {
  applyCommand,
  deleteCommand,
  getCommand,
  historyCommand,
  pauseResumeCommand,
  planCommand,
  recoverCommand,
  reportError,
  rollbackCommand,
  snapshotsCommand,
} = lazyModule(() => import('./commands.ts'));
const files = lazyModule(() => import('./file-commands.ts'));

function build(needed?: (name: string) => boolean): Command {
  const program = new Command('molt')
    .description('Upgrade running stateful containerized apps without losing their data or their network identity.')
    .version('0.1.0')
    .option(
      '--engine <url>',
      'container engine socket (unix:///path); default: CONTAINER_HOST, DOCKER_HOST, Podman and Docker sockets',
    )
    .option('--home <dir>', 'molt state directory (default: $MOLT_HOME or ~/.local/share/molt)')
    .option(
      '--kubeconfig <file>',
      "act on this Kubernetes cluster through molt's custom resources instead of the local engine",
    )
    .option('--context <name>', 'the kubeconfig context to use (implies the cluster)')
    .option('-n, --namespace <ns>', "namespace on the cluster (default: the context's)")
    .option('--in-cluster', "act on the cluster of this pod's service account")
    .showHelpAfterError()
    .exitOverride();
  const withGlobals = <T extends object>(cmd: Command, opts: T): T & GlobalOptions => ({
    ...program.opts<GlobalOptions>(),
    ...opts,
  });
  const run = exitCodeOf;
  const restoreCommand = needed ? defineOnly(program, needed) : () => {};

  program
    .command('apply')
    .description('create the app, or upgrade it when its version, image or container settings changed')
    .requiredOption('-f, --filename <file>', 'manifest file (YAML; - for stdin)')
    .option(
      '--timeout <duration>',
      'roll back when not done within this time (on a cluster: stop waiting; the operator goes on)',
      '10m',
    )
    .option('--no-wait', 'on a cluster: return right after the apply, without waiting for the operator')
    .action(run((o: { filename: string; timeout: string; wait: boolean }) => applyCommand(withGlobals(program, o))));
  program
    .command('plan')
    .description('show the steps apply would take; exit 0 nothing to do, 2 changes pending, 1 error')
    .requiredOption('-f, --filename <file>', 'manifest file')
    .action(run((o: { filename: string }) => planCommand(withGlobals(program, o))));
  program
    .command('get')
    .description(
      'list apps (`get apps`), show one (`get app NAME`), the release catalog (`get releases`), or the apps a file describes (`get -f FILE`)',
    )
    .argument('[resource]', 'apps, app or releases')
    .argument('[name]')
    .option('-f, --filename <file>', 'the apps this manifest or Compose file describes')
    .option('-o, --output <format>', 'table, wide, json or yaml', 'table')
    .action(
      run((resource: string | undefined, name: string | undefined, o: { output: string; filename?: string }) =>
        o.filename === undefined && resource !== undefined
          ? getCommand(resource, name, withGlobals(program, o))
          : files.getFileCommand(resource, withGlobals(program, o)),
      ),
    );
  program
    .command('history')
    .description('every install, upgrade and rollback of the app (or of the apps a file describes), with its steps')
    .argument('[name]')
    .option('-f, --filename <file>', 'the apps this manifest or Compose file describes')
    .option('-o, --output <format>', 'table, json or yaml', 'table')
    .action(
      run((name: string | undefined, o: { output: string; filename?: string }) =>
        o.filename === undefined && name !== undefined
          ? historyCommand(name, withGlobals(program, o))
          : files.historyFileCommand(name, withGlobals(program, o)),
      ),
    );
  program
    .command('snapshots')
    .description("the volume snapshots kept for the app (taken before each upgrade's scripts)")
    .argument('<name>')
    .option('-o, --output <format>', 'table, json or yaml', 'table')
    .action(run((name: string, o: { output: string }) => snapshotsCommand(name, withGlobals(program, o))));
  program
    .command('rollback')
    .description(
      'go back to the previously installed version, keeping the data; with -f: every app of the file whose last upgrade can be, dependents first (or only SERVICE)',
    )
    .argument('[name]', 'the app; with -f: a service (or app) of the file')
    .option('-f, --filename <file>', 'the apps this manifest or Compose file describes')
    .option('--timeout <duration>', 'give up (and restore) when not done within this time', '10m')
    .option('--no-wait', 'on a cluster: return right after asking the operator')
    .action(
      run((name: string | undefined, o: { timeout: string; wait: boolean; filename?: string }) =>
        o.filename === undefined && name !== undefined
          ? rollbackCommand(name, withGlobals(program, o))
          : files.rollbackFileCommand(name, withGlobals(program, o)),
      ),
    );
  program
    .command('pause')
    .description("stop a release app's rollout before its next member")
    .argument('<name>')
    .action(run((name: string) => pauseResumeCommand(name, true, withGlobals(program, {}))));
  program
    .command('resume')
    .description('continue a paused or partitioned rollout of a release app')
    .argument('<name>')
    .option('--timeout <duration>', 'give up (and roll back) when not done within this time', '30m')
    .action(run((name: string, o: { timeout: string }) => pauseResumeCommand(name, false, withGlobals(program, o))));
  program
    .command('recover')
    .description('finish or roll back an operation that was interrupted')
    .argument('<name>')
    .action(run((name: string) => recoverCommand(name, withGlobals(program, {}))));
  program
    .command('delete')
    .description("remove the app's containers; volumes are kept unless --volumes")
    .argument('<name>')
    .option('--volumes', "also remove the app's volumes (its data!)")
    .action(run((name: string, o: { volumes?: boolean }) => deleteCommand(name, withGlobals(program, o))));
  registerTaskCommands(program);
  registerLifecycleCommands(program);
  registerContainerCommands(program);
  program
    .command('demo')
    .description('build two versions of an example app offline and show an upgrade and a rollback')
    .action(run(async () => (await import('./demo.ts')).demo(withGlobals(program, {}))));
  restoreCommand();
  return program;
}

/** Runs the CLI with `argv` (without node and script). */
export async function main(argv: string[]): Promise<void> {
  try {
    // Only the command the line names is defined (only-command.ts), all when it is not one of them.
    const needed = neededCommands(argv);
    let program = build(needed);
    if (needed && !definesNamedCommand(program, argv)) program = build();
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 1;
      return;
    }
    await reportError(e);
    process.exitCode = 1;
  }
}

// Not awaited at the top level: the bundle runs this module as CommonJS (launch/bundle-loader.ts).
// main settles every error itself.
void main(process.argv.slice(2));
