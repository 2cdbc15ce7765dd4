/** PostgreSQL SQLSTATEs and socket codes that mean "unreachable now", not "this stage failed". */
const CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08006',
  '53300', // too_many_connections
]);

const MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|CONNECTION_CLOSED|CONNECTION_REFUSED|DISCONNECT|PublishError|JetStream .*(not|un)available|no responders/i;

/**
 * Whether `err` (or its cause) is PostgreSQL or NATS being unreachable. Such errors are
 * retried without counting as the stage's failure, so an outage never fails a run.
 */
export function isInfrastructureError(err: unknown, depth = 0): boolean {
  if (depth > 4 || typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; name?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && CODES.has(e.code)) return true;
  if (e.name === 'PublishError') return true;
  if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
  if (e instanceof AggregateError) return e.errors.some((x) => isInfrastructureError(x, depth + 1));
  return isInfrastructureError(e.cause, depth + 1);
}
