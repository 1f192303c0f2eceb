/**
 * The failures of UpgradeTasks and Inventories, in the style of `errors.ts`: one small class
 * per kind with a stable code, a message, a hint and whether trying again can help. Failures
 * of single targets are not thrown: they become the target's phase and reason in the status.
 */
import { MoltError } from './errors.ts';

/** No task of that name was applied. */
export class TaskNotFoundError extends MoltError {
  readonly code = 'TaskNotFound';
  constructor(name: string) {
    super(
      `task "${name}" not found`,
      'List tasks with `molt task list`, or create one with `molt task apply -f FILE`.',
    );
  }
}

/** A worker is already running the task. */
export class TaskBusyError extends MoltError {
  readonly code = 'TaskBusy';
  constructor(name: string, holder: string) {
    super(
      `task "${name}" is already being run by ${holder}`,
      `Follow it with \`molt task describe ${name}\`, or stop it with \`molt task cancel ${name}\`.`,
    );
  }
}

/** The task's spec cannot change once it has started: it is the record of what was done. */
export class TaskImmutableError extends MoltError {
  readonly code = 'TaskImmutable';
  constructor(name: string, phase: string) {
    super(
      `task "${name}" is ${phase}: its spec can no longer change`,
      'Apply the new spec under another metadata.name (targets already at the new version are skipped), or `molt task delete` the old task first.',
    );
  }
}

/** The task names an Inventory that was not applied. */
export class InventoryNotFoundError extends MoltError {
  readonly code = 'InventoryNotFound';
  constructor(name: string) {
    super(
      `inventory "${name}" not found`,
      'Apply it with `molt task apply -f inventory.yaml` (kind: Inventory), or fix spec.inventory.',
    );
  }
}

/** An inventory change would move the targets of a task that is running. */
export class InventoryInUseError extends MoltError {
  readonly code = 'InventoryInUse';
  constructor(name: string, tasks: string[]) {
    super(
      `inventory "${name}" is used by the started task(s) ${tasks.join(', ')}: its endpoints' names and homes cannot change now (their targets are journaled there)`,
      'Change only engine addresses or TLS files now, or wait until those tasks finish (or cancel them).',
    );
  }
}

/** An inventory endpoint cannot be used as written (unreadable TLS files, bad address). */
export class EndpointUnusableError extends MoltError {
  readonly code = 'EndpointUnusable';
  constructor(endpoint: string, detail: string) {
    super(
      `endpoint "${endpoint}": ${detail}`,
      'Fix the endpoint in the Inventory and apply it again; the task keeps its targets and continues on the next run.',
    );
  }
}
