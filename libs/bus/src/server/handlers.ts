import { type MessageHandler } from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
import { subjectMatches } from '../ids.js';

/**
 * The `@EventPattern` handler of `subject`: the one registered under exactly that subject,
 * else the first whose pattern matches it. Request handlers (`@MessagePattern`) never match.
 */
export function findEventHandler(
  handlers: ReadonlyMap<string, MessageHandler>,
  subject: string,
): MessageHandler | undefined {
  const exact = handlers.get(subject);
  if (exact?.isEventHandler) return exact;
  for (const [pattern, h] of handlers)
    if (h.isEventHandler && subjectMatches(pattern, subject)) return h;
  return undefined;
}

/** Runs a Nest handler and resolves to its result (an Observable's last value, if it returns one). */
export async function invokeHandler(
  handler: MessageHandler,
  data: unknown,
  ctx: unknown,
): Promise<unknown> {
  const out: unknown = await handler(data, ctx);
  return isObservable(out) ? lastValueFrom(out, { defaultValue: undefined }) : out;
}
