import { ErrorCode, HeadyError } from '@heady/contracts';
import { type z } from 'zod';

/** Parses `value` with `schema`, or throws a VALIDATION_FAILED error listing each problem with its path. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: string,
): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const errors = r.error.issues.map((i) => ({
    path: [where, ...i.path.map(String)].join('.'),
    message: i.message,
  }));
  throw new HeadyError(
    ErrorCode.ValidationFailed,
    `invalid ${where}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
    { errors },
  );
}
