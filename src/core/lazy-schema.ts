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
 * The fields of `builders` named in `names` (every field when `names` is undefined), built, in
 * the builders' order. A field not named is left out, or built by `whenAbsent` when it has a
 * default there: a schema that gives the field's default for a missing key without building the
 * field. Names that are not fields are skipped (the strict object they go into reports them).
 */
export function buildFields<F extends FieldBuilders>(
  builders: F,
  names?: ReadonlySet<string>,
  whenAbsent: Partial<Record<keyof F, () => z.ZodType>> = {},
): BuiltShape<F> {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, build] of Object.entries(builders)) {
    const absent = whenAbsent[name];
    if (names === undefined || names.has(name)) shape[name] = build();
    else if (absent) shape[name] = absent();
  }
  return shape as BuiltShape<F>;
}
