import { ErrorCode, HeadyError } from '@heady/contracts';

const PREFIX = 'r1.';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The cursor of `GET /api/runs`: opaque to clients (base64url), versioned, naming the last
 * run of the page. Which organization may use it is checked when it is read, not signed in.
 */
export function encodeCursor(lastRunId: string): string {
  return Buffer.from(`${PREFIX}${lastRunId}`, 'utf8').toString('base64url');
}

/** The run id a cursor names; VALIDATION_FAILED when it is not one this gateway made. */
export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : '';
  if (!UUID.test(id)) throw badCursor();
  return id;
}

/** The VALIDATION_FAILED a cursor that names no page of the caller's gets. */
export function badCursor(): HeadyError {
  return new HeadyError(
    ErrorCode.ValidationFailed,
    'invalid query: query.cursor: not a cursor from a previous page',
    { errors: [{ path: 'query.cursor', message: 'not a cursor from a previous page' }] },
  );
}
