/**
 * The worker as a background process: `molt task run NAME --detach` starts
 * `molt task run NAME` again in its own session (so it outlives the terminal and a closed
 * SSH connection), its output appended to `<MOLT_HOME>/tasks/NAME.log`; the worker records
 * its own pid and log with the task. `molt task cancel` finds it there and signals it.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from '../store/store.ts';
import { workerAlive, type TaskRecord } from '../store/task-store.ts';
import { moltHome, say, type GlobalOptions } from './context.ts';

const CLAIM_TIMEOUT_MS = 15_000;

function readTask(opts: GlobalOptions, name: string): TaskRecord | undefined {
  const store = Store.open(moltHome(opts));
  try {
    return store.tasks.getTask(name);
  } finally {
    store.close();
  }
}

/** Starts the detached worker and waits until it has claimed the task; returns the exit code. */
export async function spawnDetached(opts: GlobalOptions, name: string, home: string): Promise<number> {
  const dir = join(home, 'tasks');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const log = join(dir, `${name}.log`);
  const fd = openSync(log, 'a', 0o600);
  const main = cliEntry();
  const args = [
    ...process.execArgv,
    main,
    '--home',
    home,
    ...(opts.engine ? ['--engine', opts.engine] : []),
    'task',
    'run',
    name,
    '--verbose',
    '--log-file',
    log,
  ];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], env: process.env });
  closeSync(fd);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal ?? `code ${code}`;
  });
  child.unref();
  const deadline = Date.now() + CLAIM_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (readTask(opts, name)?.worker?.pid === child.pid) {
      process.stdout.write(`upgradetask/${name} running in the background (pid ${child.pid})\n`);
      say(`log: ${log}`);
      say(
        `follow it with \`molt task describe ${name}\` or \`molt task get ${name}\`; stop it with \`molt task cancel ${name}\``,
      );
      return 0;
    }
    if (exited !== undefined) break;
    await sleep(100);
  }
  say(
    `error[WorkerNotStarted]: the worker for task/${name} ${exited ? `exited (${exited})` : 'did not start in time'}; its log ${log} ends with:`,
  );
  say(tail(log));
  return 1;
}

/**
 * Asks a live worker to cancel (the request is already recorded; SIGTERM makes it act at
 * once) and waits for the task to end. Returns false when no worker runs the task — or it
 * died before finishing — so the caller cancels in-process.
 */
export async function cancelWorker(opts: GlobalOptions, name: string, timeoutSeconds: number): Promise<boolean> {
  const worker = readTask(opts, name)?.worker;
  if (!worker || !workerAlive(worker, name)) return false;
  if (worker.host === hostname()) {
    try {
      process.kill(worker.pid, 'SIGTERM');
    } catch {
      return false;
    }
  }
  say(
    `task/${name}: cancel requested; worker pid ${worker.pid} on ${worker.host} rolls back what is in flight and starts nothing new`,
  );
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (Date.now() < deadline) {
    const task = readTask(opts, name);
    if (task?.state.phase === 'Success' || task?.state.phase === 'Error') {
      while (workerAlive(worker, name) && Date.now() < deadline) await sleep(100);
      return true;
    }
    if (!task?.worker || !workerAlive(task.worker, name)) return false;
    await sleep(250);
  }
  say(
    `task/${name}: the worker is still rolling back after ${timeoutSeconds}s; it carries on — follow it with \`molt task describe ${name}\``,
  );
  return true;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-10).join('\n') || '(empty)';
  } catch {
    return '(unreadable)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The CLI's entry file: src/cli/main.ts beside this module when molt runs from its sources,
 * dist/molt.cjs, the bundle's loader, when it runs from the bundle (this code is then in dist/chunks/).
 */
function cliEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? join(dirname(here), 'main.ts') : join(dirname(here), '..', 'molt.cjs');
}
