/**
 * Defining every command with commander costs each run ~3 ms of CPU, and a run uses one. So
 * main.ts defines only the top-level command the command line names (none for a bare
 * `--version`), and all of them when that is not a command it knows (`help`, a typo to suggest
 * for, global options first): what commander does with the command line stays the same.
 */
import type { Command } from 'commander';

/** Which top-level commands a command line needs defined; undefined: all of them. */
export function neededCommands(argv: string[]): ((name: string) => boolean) | undefined {
  const [first, ...rest] = argv;
  if (rest.length === 0 && (first === '--version' || first === '-V')) return () => false;
  if (first !== undefined && /^[a-z][a-z0-9-]*$/.test(first)) return (name) => name === first;
  return undefined;
}

/** True when `program` defines the command `argv` names (a build with `neededCommands` can serve it). */
export function definesNamedCommand(program: Command, argv: string[]): boolean {
  return argv[0] === undefined || argv[0].startsWith('-') || program.commands.some((c) => c.name() === argv[0]);
}

/**
 * Makes `program.command(name …)` define only the names `keep` accepts; the definition of any
 * other gets a stand-in that takes every call and keeps nothing. Returns the undo.
 */
export function defineOnly(program: Command, keep: (name: string) => boolean): () => void {
  const define = program.command.bind(program) as (...args: unknown[]) => Command;
  const ignored: Command = new Proxy(Object.create(null) as Command, { get: () => () => ignored });
  program.command = ((nameAndArgs: string, ...rest: unknown[]) =>
    keep(nameAndArgs.trim().split(/\s+/)[0] ?? '') ? define(nameAndArgs, ...rest) : ignored) as Command['command'];
  return () => {
    delete (program as { command?: unknown }).command;
  };
}
