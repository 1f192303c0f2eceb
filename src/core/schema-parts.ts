/** Small zod building blocks shared by schema.ts and settings-schema.ts (no imports of either, so no cycle). */
import * as z from 'zod';

/** An absolute path inside a container (or on the host). */
export const absolutePath = z
  .string()
  .refine((p) => p.startsWith('/'), { message: 'must be an absolute path (start with "/")' })
  .refine((p) => !p.split('/').includes('..'), { message: 'must not contain ".." segments' })
  .refine((p) => !/[\0\n]/.test(p), { message: 'must not contain NUL or newline characters' });

/** An argv: at least one element, no NUL. */
export const argv = z
  .array(z.string().refine((s) => !s.includes('\0'), 'must not contain NUL'))
  .min(1, 'must have at least one element');

/** A TCP/UDP port number. */
export const port = z.number().int().min(1).max(65535);
