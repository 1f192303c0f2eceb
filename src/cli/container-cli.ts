/**
 * Registers `molt upgrade CONTAINER` and `molt adopt` (seed 002 on containers molt did not
 * create). Their implementation (container-commands.ts) loads only when one of them runs.
 */
import type { Command } from 'commander';
import type { GlobalOptions } from './context.ts';
import { exitCodeOf, lazyModule } from './lazy.ts';

const impl = lazyModule(() => import('./container-commands.ts'));

/** The options of `molt upgrade`. */
export interface UpgradeOptions {
  image: string;
  version?: string;
  entrypoint?: string;
  minReady?: string;
  timeout: string;
}
/** The options of `molt adopt`. */
export interface AdoptOptions {
  package?: string;
  version?: string;
  name?: string;
  output: string;
}

/** Adds `upgrade` and `adopt` to the program. */
export function registerContainerCommands(program: Command): void {
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const run = exitCodeOf;
  program
    .command('upgrade')
    .description(
      'seed 002 on any container: re-create it from a new image, keeping everything else it had (volumes, IP and MAC, ports, limits, env…)',
    )
    .argument('<container>', 'name or id')
    .argument('[command...]', 'new Cmd (after --)')
    .requiredOption('--image <image>', 'the new image')
    .option('--version <version>', 'the version the new image is (for upgrade scripts and history; default: its tag)')
    .option('--entrypoint <entrypoint>', 'new Entrypoint (one executable)')
    .option('--min-ready <seconds>', 'how long the new container must keep running to count as started', '2')
    .option('--timeout <duration>', 'roll back when not done within this time', '10m')
    .action(
      run((container: string, command: string[], o: UpgradeOptions) =>
        impl.upgradeCommand(container, command, { ...globals(), ...o }),
      ),
    );
  program
    .command('adopt')
    .description('make an existing container a managed app without restarting it; prints its manifest')
    .argument('<container>', 'name or id')
    .option('--package <ns/name>', 'package identity (default: from the image repository)')
    .option('--version <version>', 'the version it runs (default: its image tag, when that is a version)')
    .option(
      '--name <app>',
      "the app's name; the container is renamed to it (not restarted). E.g. a Compose service's <project>-<service>",
    )
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .action(run((container: string, o: AdoptOptions) => impl.adoptCommand(container, { ...globals(), ...o })));
}
