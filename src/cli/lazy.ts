/**
 * Lazily loaded command modules: `molt --version`, `--help` and each command load only the
 * code they use (the store, the engine client, zod schemas and YAML come with the command
 * that needs them), so the CLI starts about as fast as Node itself.
 */

/** A module's functions, each returning a promise (its module is imported on first call). */
export type LazyModule<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/** Wraps `load` so that calling any exported function imports the module first, once. */
export function lazyModule<T extends object>(load: () => Promise<T>): LazyModule<T> {
  let loaded: Promise<T> | undefined;
  return new Proxy(
    {},
    {
      get:
        (_, name) =>
        async (...args: unknown[]) => {
          const mod = (await (loaded ??= load())) as Record<string | symbol, unknown>;
          const fn = mod[name];
          if (typeof fn !== 'function')
            throw new Error(`internal: ${String(name)} is not a function of the lazily loaded module`);
          return (fn as (...a: unknown[]) => unknown)(...args);
        },
    },
  ) as LazyModule<T>;
}

/** A command's action: its result becomes the process exit code. */
export type CommandAction = (...args: never[]) => number | Promise<number>;

/** Wraps a command's action for commander: the number it returns is the process's exit code. */
export function exitCodeOf(fn: CommandAction): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    process.exitCode = await (fn as (...a: unknown[]) => number | Promise<number>)(...args);
  };
}
