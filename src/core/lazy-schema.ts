/**
 * zod schemas built when first used, not when their module loads. Building a zod 4 schema
 * costs ~150 k CPU instructions per node, in every CLI run that validates a manifest (an App's
 * full schema has ~480 nodes: a sixth of an upgrade's CPU). Most of an App's optional settings
 * are absent from any one document, so a manifest is validated by a schema holding only the
 * optional fields it names (`buildFields`) — the same field schemas, so the same rules and the
 * same messages. Document schemas (`lazySchema`) are built on first call; `isLazySchema` lets
 * the CRD generator find them among a module's exports.
 */
import type * as z from 'zod';

const lazySchemas = new WeakSet<() => z.ZodType>();

/** `build`, run on the first call; later calls return the same schema. */
export function lazySchema<T extends z.ZodType>(build: () => T): () => T {
  let built: T | undefined;
  const get = () => (built ??= build());
  lazySchemas.add(get);
  return get;
}

/** True for a function made by `lazySchema`. */
export function isLazySchema(value: unknown): value is () => z.ZodType {
  return typeof value === 'function' && lazySchemas.has(value as () => z.ZodType);
}

/** Builders of an object's fields, one per field (each made with `lazySchema`). */
export type FieldBuilders = Record<string, () => z.ZodType>;
/** The shape built from `F`. */
export type BuiltShape<F extends FieldBuilders> = { [K in keyof F]: ReturnType<F[K]> };

/**
 * The fields of `builders` named in `names`, built; every field when `names` is undefined.
 * Names that are not fields are skipped (the strict object they go into reports them).
 */
export function buildFields<F extends FieldBuilders>(builders: F, names?: Iterable<string>): BuiltShape<F> {
  const shape: Record<string, z.ZodType> = {};
  for (const name of names ?? Object.keys(builders)) {
    const build = Object.hasOwn(builders, name) ? builders[name] : undefined;
    if (build) shape[name] = build();
  }
  return shape as BuiltShape<F>;
}
