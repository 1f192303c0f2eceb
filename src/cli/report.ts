/** How the CLI reports an error: `error[code]: message`, then `hint: …` (stderr). */
import { MoltError } from '../core/errors.ts';
import { say } from './context.ts';

/** Prints an error as `error[code]: message` and its hint. */
export function reportError(e: unknown): void {
  if (e instanceof MoltError) {
    say(`error[${e.code}]: ${e.message}`);
    say(`hint: ${e.hint}`);
  } else {
    say(`error[Internal]: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    say('hint: this is a bug in molt; please report it with the command you ran.');
  }
}
