/**
 * molt's failures: one small class per kind, each with a stable `code`, a human message, a
 * `hint` that says how to fix it, and whether trying again can help (`retryable`, from the
 * failure table of core/policy/failures.ts).
 * The CLI prints `error[code]: message` then `hint: …`; exit codes come from `exitCode`.
 */
import { FAILURES, isFailureCode, type FailureCode } from './policy/failures.ts';

/** The base of every molt error. */
export abstract class MoltError extends Error {
  /** The failure's code; `retryable` comes from its entry in core/policy's FAILURES table. */
  abstract readonly code: FailureCode;
  /** What the user can do about it. */
  readonly hint: string;
  readonly #retryable: boolean | undefined;

  /** `options.retryable` decides for the one error when the code alone cannot (e.g. by HTTP status). */
  constructor(message: string, hint: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
    this.#retryable = options?.retryable;
  }

  /** True when the same call may succeed later without any change by the user. */
  get retryable(): boolean {
    return this.#retryable ?? FAILURES[this.code].retryable;
  }

  /** A JSON-friendly form, as stored in history and status. */
  toJSON(): { code: FailureCode; message: string; hint: string } {
    return { code: this.code, message: this.message, hint: this.hint };
  }
}

/** One problem found in an input document. */
export interface InputProblem {
  file: string;
  line?: number;
  column?: number;
  /** Dotted path of the field, e.g. `spec.volumes[0].name`. */
  field?: string;
  message: string;
}

/** The input (a manifest or a flag) is invalid; nothing was changed. */
export class InvalidInputError extends MoltError {
  readonly code = 'InvalidInput';
  readonly problems: InputProblem[];
  constructor(problems: InputProblem[], hint = 'Correct the document and run the command again.') {
    super(problems.map(formatProblem).join('\n'), hint);
    this.problems = problems;
  }
}

/** Formats one problem as `file:line:col: field: message`. */
export function formatProblem(p: InputProblem): string {
  const where = [p.file, p.line, p.column].filter((x) => x !== undefined).join(':');
  return `${where}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

/** The requested change is not allowed by the upgrade rules; nothing was changed. */
export class UpgradeRefusedError extends MoltError {
  readonly code: 'DowngradeRefused' | 'NamespaceSwitchRefused' | 'PackageChangeRefused' | 'ChangeRefused';
  constructor(
    code: 'DowngradeRefused' | 'NamespaceSwitchRefused' | 'PackageChangeRefused' | 'ChangeRefused',
    message: string,
    hint: string,
  ) {
    super(message, hint);
    this.code = code;
  }
}

/** Another molt process is working on the app. */
export class AppBusyError extends MoltError {
  readonly code = 'AppBusy';
  constructor(app: string, holder: string) {
    super(`app "${app}" is busy: ${holder} is working on it`, 'Wait for that command to finish, then run yours again.');
  }
}

/** The app is not known to molt. */
export class AppNotFoundError extends MoltError {
  readonly code = 'AppNotFound';
  constructor(app: string) {
    super(`app "${app}" not found`, 'List apps with `molt get apps`, or create it with `molt apply -f FILE`.');
  }
}

/** The image cannot be found locally nor pulled. */
export class ImageUnavailableError extends MoltError {
  readonly code = 'ImageUnavailable';
  constructor(image: string, detail: string) {
    super(
      `image ${image} is not available: ${detail}`,
      `Build or load the image (e.g. \`podman build -t ${image} .\`), or fix spec.image.`,
    );
  }
}

/** No container engine answers. */
export class EngineUnavailableError extends MoltError {
  readonly code = 'EngineUnavailable';
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      `no container engine answers: ${detail}`,
      'Start Podman (`podman system service`) or Docker, or point --engine / CONTAINER_HOST at its socket.',
      options,
    );
  }
}

/** The engine answered with an error. */
export class EngineError extends MoltError {
  readonly code = 'EngineError';
  readonly status: number;
  constructor(operation: string, status: number, detail: string) {
    super(
      `${operation} failed: ${detail} (HTTP ${status})`,
      'See the engine message above; `podman logs` / `podman inspect` may tell more.',
      // "no such container/image…" is terminal; Podman's "route ip+net: no such network interface"
      // is a race with an interface going away while it lists them (another network's teardown).
      { retryable: status >= 500 && !/no such (?!network interface)|not found/i.test(detail) },
    );
    this.status = status;
  }
}

/** The new version did not become ready; the app was rolled back. */
export class NotReadyError extends MoltError {
  readonly code: 'ContainerExited' | 'ProbeFailed' | 'ContainerOOMKilled';
  constructor(code: 'ContainerExited' | 'ProbeFailed' | 'ContainerOOMKilled', message: string, hint: string) {
    super(message, hint);
    this.code = code;
  }
}

/** The user interrupted the command or its deadline passed. */
export class InterruptedError extends MoltError {
  readonly code: 'Interrupted' | 'Timeout';
  constructor(code: 'Interrupted' | 'Timeout', message: string) {
    super(
      message,
      code === 'Timeout' ? 'Raise --timeout, or make the app start faster.' : 'Run the command again to continue.',
    );
    this.code = code;
  }
}

/** A rollback could not finish (e.g. the engine went away); the journal keeps it in flight. */
export class RollbackIncompleteError extends MoltError {
  readonly code = 'RollbackIncomplete';
  constructor(app: string, detail: string, options?: { cause?: unknown }) {
    super(
      `rollback of "${app}" could not finish: ${detail}`,
      `Fix the engine, then run \`molt recover ${app}\` (or any molt command on it) to finish the rollback.`,
      options,
    );
  }
}

/** The serialisable form of any error, as kept in the journal. */
export interface ErrorRecord {
  /** A FailureCode when molt wrote it; typed as a string because journals outlive versions of the table. */
  code: string;
  message: string;
  hint?: string;
}

/** An ErrorRecord made now, by this version: its code is a FailureCode. */
export type FailureRecord = ErrorRecord & { code: FailureCode };

/** Turns anything thrown into an ErrorRecord. */
export function toErrorRecord(error: unknown): FailureRecord {
  if (error instanceof MoltError) return error.toJSON();
  if (error instanceof Error) return { code: 'Internal', message: error.message };
  return { code: 'Internal', message: String(error) };
}

/** The app's network has no free address left. */
export class NoFreeAddressError extends MoltError {
  readonly code = 'NoFreeAddress';
  constructor(network: string, subnet: string) {
    super(
      `network ${network} (${subnet}) has no free address`,
      'Remove unused containers from the network, or give the app another network or a larger subnet.',
    );
  }
}

/** An upgrade script failed, timed out, or cannot be used. */
export class ScriptError extends MoltError {
  readonly code: 'PreUpgradeFailed' | 'PostUpgradeFailed' | 'ScriptTimeout' | 'ScriptInvalid';
  /** What the script printed (stdout, stderr lines prefixed "! "), kept in the history. */
  readonly output: string;
  constructor(
    code: 'PreUpgradeFailed' | 'PostUpgradeFailed' | 'ScriptTimeout' | 'ScriptInvalid',
    message: string,
    hint: string,
    output = '',
  ) {
    super(message, hint);
    this.code = code;
    this.output = output;
  }
}

/**
 * A member of a release app failed, as recorded by its own operation or its lifecycle hook:
 * `record` is that cause, kept as it is for the rollout's status.
 */
export class MemberFailedError extends MoltError {
  readonly code: FailureCode;
  readonly record: ErrorRecord;
  constructor(record: ErrorRecord, message = record.message) {
    super(
      message,
      'See the member in `molt history APP`; the rollout went back or paused as upgradeStrategy.onFailure says.',
    );
    this.code = isFailureCode(record.code) ? record.code : 'Failed';
    this.record = record;
  }
}

/** Saving or restoring a volume snapshot failed. */
export class SnapshotError extends MoltError {
  readonly code = 'SnapshotFailed';
  constructor(
    message: string,
    hint = "Check free disk space in the molt home and that molt runs on the engine's host; or set spec.upgrade.snapshotVolumes: false.",
  ) {
    super(message, hint);
  }
}
