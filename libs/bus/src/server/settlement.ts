import { isPermanentError, isRetryableError } from '../errors.js';
import { backoffFor } from '../ids.js';
import { type ConsumerSpec } from '../topology.js';

/** What to do with a delivery whose handler failed without settling it. */
export type FailureOutcome =
  { action: 'dlq'; reason: string } | { action: 'nak'; delayMs: number; reason: string };

/** The text of an error for logs and the `Heady-Dlq-Reason` header. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  const m = (err as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : String(err);
}

/**
 * The settlement rule: a PermanentError (or undecodable payload) goes to DLQ at once; any
 * other error is retried with `nak(RetryableError.delayMs ?? backoff[deliveryCount-1] ?? last)`
 * until the delivery is the consumer's last, which goes to DLQ instead.
 */
export function failureOutcome(
  err: unknown,
  deliveryCount: number,
  spec: Pick<ConsumerSpec, 'maxDeliver' | 'backoffMs'>,
): FailureOutcome {
  const reason = reasonOf(err);
  if (isPermanentError(err)) return { action: 'dlq', reason };
  if (deliveryCount >= spec.maxDeliver)
    return { action: 'dlq', reason: `max deliveries (${spec.maxDeliver}) exhausted: ${reason}` };
  const delayMs =
    isRetryableError(err) && err.delayMs !== undefined
      ? err.delayMs
      : backoffFor(spec.backoffMs, deliveryCount);
  return { action: 'nak', delayMs, reason };
}

/**
 * Whether `err` is what Nest's default RPC exception filter makes of any non-RpcException:
 * the original error (and whether it was permanent) is lost; BusExceptionFilter keeps it.
 */
export function isNestGenericRpcError(err: unknown): boolean {
  if (err instanceof Error || typeof err !== 'object' || err === null) return false;
  const e = err as { status?: unknown; message?: unknown };
  return e.status === 'error' && e.message === 'Internal server error';
}
