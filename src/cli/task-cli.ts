/**
 * Registers `molt task` and its subcommands. Kept apart from their implementations
 * (task-commands.ts, kube-task-commands.ts), which are loaded only when a task verb runs, so
 * that every other command starts without them.
 */
import { Option, type Command } from 'commander';
import type { GlobalOptions } from './context.ts';
import { exitCodeOf, lazyModule } from './lazy.ts';

const local = lazyModule(() => import('./task-commands.ts'));
// The cluster side, loaded only in cluster mode (see isKubeMode).
const kube = lazyModule(() => import('./kube-task-commands.ts'));
const context = lazyModule(() => import('./context.ts'));
const output = lazyModule(() => import('./output.ts'));

/** Registers `molt task` and its subcommands on the program. */
export function registerTaskCommands(program: Command): void {
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const onCluster = (): Promise<boolean> => context.isKubeMode(globals());
  const run = exitCodeOf;
  const task = program
    .command('task')
    .description('UpgradeTasks: upgrades as auditable objects, run by a worker across many apps and hosts');
  task
    .command('apply')
    .description('create or update UpgradeTasks and Inventories from a file')
    .requiredOption('-f, --filename <file>', 'YAML file (- for stdin)')
    .action(
      run(async (o: { filename: string }) =>
        (await onCluster()) ? kube.kubeApplyTasks(globals(), o.filename) : local.applyTasks(globals(), o.filename),
      ),
    );
  task
    .command('run')
    .description('run the task as a worker until it succeeds or fails (resumes a task a stopped worker left)')
    .argument('<name>')
    .option('--detach', 'run the worker in the background; it outlives the terminal (log under MOLT_HOME/tasks/)')
    .option('-o, --output <format>', 'final report: table, json or yaml', 'table')
    .option('-v, --verbose', 'print every step of every target')
    .addOption(new Option('--log-file <file>', 'the log file of a detached worker (set by --detach)').hideHelp())
    .addOption(
      new Option('--in-job', "run as the operator's Job: exit 0 once the task has ended, even in Error").hideHelp(),
    )
    .action(
      run(
        async (
          name: string,
          o: { detach?: boolean; output: string; verbose?: boolean; logFile?: string; inJob?: boolean },
        ) => ((await onCluster()) ? kube.kubeRunTask(globals(), name, o) : local.runCommand(globals(), name, o)),
      ),
    );
  task
    .command('get')
    .description('show one task, or all')
    .argument('[name]')
    .option('-o, --output <format>', 'table, wide, json or yaml', 'table')
    .action(
      run(async (name: string | undefined, o: { output: string }) =>
        (await onCluster()) ? kube.kubeGetTasks(globals(), name, o.output) : local.getTasks(globals(), name, o.output),
      ),
    );
  task
    .command('list')
    .description('list tasks')
    .option('-o, --output <format>', 'table, wide, json or yaml', 'table')
    .action(
      run(async (o: { output: string }) =>
        (await onCluster())
          ? kube.kubeGetTasks(globals(), undefined, o.output)
          : local.getTasks(globals(), undefined, o.output),
      ),
    );
  task
    .command('describe')
    .description('the task in detail: spec, phase, counts, targets and every step')
    .argument('<name>')
    .action(
      run(async (name: string) =>
        (await onCluster()) ? kube.kubeDescribeTask(globals(), name) : local.describeTask(globals(), name),
      ),
    );
  task
    .command('cancel')
    .description('stop the task safely: what is in flight rolls back, nothing new starts')
    .argument('<name>')
    .option('--timeout <duration>', 'how long to wait for the worker', '10m')
    .action(
      run(async (name: string, o: { timeout: string }) => {
        const seconds = await output.parseDuration(o.timeout);
        return (await onCluster())
          ? kube.kubeCancelTask(globals(), name, seconds)
          : local.cancelTask(globals(), name, seconds);
      }),
    );
  task
    .command('delete')
    .description('forget a finished (or never started) task; apps are not touched')
    .argument('<name>')
    .action(
      run(async (name: string) =>
        (await onCluster()) ? kube.kubeDeleteTask(globals(), name) : local.deleteTask(globals(), name),
      ),
    );
}
