/**
 * Registers `molt describe`, `stop`, `start`, `up` and `systemd install`. Kept apart from their
 * implementations (lifecycle-commands.ts, systemd.ts), loaded only when one of them runs, so that
 * every other command starts without the runner.
 */
import type { Command } from 'commander';
import type { GlobalOptions } from './context.ts';
import { exitCodeOf, lazyModule } from './lazy.ts';

const impl = lazyModule(() => import('./lifecycle-commands.ts'));
const systemdUnit = lazyModule(() => import('./systemd.ts'));

/** Adds describe, stop, start, up and systemd to the program. */
export function registerLifecycleCommands(program: Command): void {
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const run = exitCodeOf;
  program
    .command('describe')
    .description(
      "an app in detail: spec, observed status, conditions, last operation and its container's last log lines",
    )
    .argument('<resource>', 'app')
    .argument('<name>')
    .option('--tail <lines>', 'log lines to show', '20')
    .action(
      run((resource: string, name: string, o: { tail: string }) =>
        impl.describeCommand(resource, name, Number(o.tail), globals()),
      ),
    );
  program
    .command('stop')
    .description('stop the app on purpose (recorded: `molt up` and `apply` leave it stopped; status shows Stopped)')
    .argument('<name>')
    .action(run((name: string) => impl.stopCommand(name, globals())));
  program
    .command('start')
    .description(
      'start an app stopped with `molt stop` (or whose container exited or is gone), and wait until it is ready',
    )
    .argument('<name>')
    .option('--timeout <duration>', 'give up waiting after this long', '10m')
    .action(run((name: string, o: { timeout: string }) => impl.startCommand(name, { ...globals(), ...o })));
  program
    .command('up')
    .description(
      'after a host restart or crash: finish interrupted operations, then start every app that should run, dependencies first',
    )
    .option('--timeout <duration>', 'give up after this long', '30m')
    .action(run((o: { timeout: string }) => impl.upCommand({ ...globals(), ...o })));
  const systemd = program.command('systemd').description('run `molt up` at boot through systemd');
  systemd
    .command('install')
    .description('write the systemd unit that runs `molt up` at boot (then enable it as printed)')
    .option('--user', 'a user unit (~/.config/systemd/user) instead of a system unit (/etc/systemd/system)')
    .option('--dir <dir>', 'write the unit into this directory instead')
    .action(run((o: { user?: boolean; dir?: string }) => systemdUnit.installUnit({ ...globals(), ...o })));
}
