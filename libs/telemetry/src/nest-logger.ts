import { type LoggerService } from '@nestjs/common';
import { type Level, type Logger } from 'pino';

/**
 * Nest passes `(message, ...params)` where a trailing string is the context (a class
 * name); a trailing multi-line string is a stack from `error(message, stack)`, not a context.
 */
function split(params: unknown[]): { context: string | undefined; rest: unknown[] } {
  const last = params.at(-1);
  return typeof last === 'string' && !last.includes('\n')
    ? { context: last, rest: params.slice(0, -1) }
    : { context: undefined, rest: params };
}

/**
 * Nest's `LoggerService` over a pino logger, so Nest's own lines (route mapping,
 * bootstrap, unhandled exceptions) come out as the same JSON as the service's, with
 * Nest's context in a `context` field. Pass it as `NestFactory.create(..., { logger })`.
 */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  private write(level: Level, message: unknown, params: unknown[]): void {
    const { context, rest } = split(params);
    const fields: Record<string, unknown> = context === undefined ? {} : { context };
    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...fields, ...message });
    } else {
      // error(message, stack, context): a stack string left over after the context
      const stack = rest.find((p): p is string => typeof p === 'string');
      if (stack !== undefined) fields.stack = stack;
      this.logger[level](fields, String(message));
    }
  }

  /** Nest `log` → pino `info`. */
  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  /** Nest `error(message, stack?, context?)` → pino `error` with `stack` or `err`. */
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  /** Nest `warn` → pino `warn`. */
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  /** Nest `debug` → pino `debug`. */
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  /** Nest `verbose` → pino `trace`. */
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  /** Nest `fatal` → pino `fatal`. */
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }
}
