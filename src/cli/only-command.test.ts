import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { defineOnly, definesNamedCommand, neededCommands } from './only-command.ts';

test('a command line needs its first word defined, none for a bare --version, all otherwise', () => {
  assert.equal(neededCommands(['get', 'apps'])?.('get'), true);
  assert.equal(neededCommands(['get', 'apps'])?.('apply'), false);
  assert.equal(neededCommands(['--version'])?.('get'), false);
  assert.equal(neededCommands(['-V'])?.('get'), false);
  assert.equal(neededCommands(['--home', '/x', 'get']), undefined);
  assert.equal(neededCommands(['--version', 'get']), undefined);
  assert.equal(neededCommands([]), undefined);
});

test('defineOnly keeps the chosen definitions, swallows the others (with their subcommands), and undoes', () => {
  const program = new Command('molt');
  const undo = defineOnly(program, (name) => name === 'get');
  program
    .command('get')
    .argument('[resource]')
    .option('-o, --output <f>')
    .action(() => {});
  const task = program.command('task').description('tasks');
  task.command('list').option('-o, --output <f>');
  undo();
  assert.deepEqual(
    program.commands.map((c) => c.name()),
    ['get'],
  );
  assert.equal(definesNamedCommand(program, ['get', 'apps']), true);
  assert.equal(definesNamedCommand(program, ['task', 'list']), false);
  assert.equal(definesNamedCommand(program, ['--version']), true);
  program.command('later');
  assert.deepEqual(
    program.commands.map((c) => c.name()),
    ['get', 'later'],
  );
});
