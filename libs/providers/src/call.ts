import { ProviderError, ProviderErrorKind } from './errors.js';
import { type ChatMessage, type ContextPassage } from './types.js';

/**
 * One call's cancellation: the caller's signal and the call's deadline as one signal,
 * remembering which of the two fired so the error can say `aborted` or `timeout`.
 */
export class CallSignal {
  readonly signal: AbortSignal;
  private readonly deadline: AbortController;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly caller: AbortSignal | undefined,
    readonly timeoutMs: number,
  ) {
    this.deadline = new AbortController();
    this.timer = setTimeout(
      () => this.deadline.abort(new DOMException('deadline passed', 'TimeoutError')),
      timeoutMs,
    );
    this.signal = caller ? AbortSignal.any([caller, this.deadline.signal]) : this.deadline.signal;
  }

  /** Stops the deadline's timer; call once the call is over. */
  dispose(): void {
    clearTimeout(this.timer);
  }

  /**
   * The error for a failure during the call: `aborted` if the caller aborted, `timeout`
   * if the deadline passed, otherwise what `otherwise` makes of it.
   */
  failure(provider: string, cause: unknown, otherwise: () => ProviderError): ProviderError {
    if (cause instanceof ProviderError) return cause;
    if (this.caller?.aborted)
      return new ProviderError(ProviderErrorKind.Aborted, provider, `${provider}: call aborted`, {
        cause,
      });
    if (this.deadline.signal.aborted)
      return new ProviderError(
        ProviderErrorKind.Timeout,
        provider,
        `${provider}: no answer within ${this.timeoutMs} ms`,
        { cause },
      );
    return otherwise();
  }
}

/**
 * How long a 429 asks us to wait, in ms: `retry-after-ms` (OpenAI), else `Retry-After` as
 * seconds or as an HTTP date; undefined when neither is there or readable.
 */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = Number(headers.get('retry-after-ms') ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get('retry-after');
  if (raw === null) return undefined;
  const seconds = Number(raw);
  if (raw.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The `data:` payloads of a Server-Sent Events body, one per event (multi-line data
 * joined by `\n`); comments and other fields are skipped.
 */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (data.length > 0) yield data.join('\n');
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(5).replace(/^ /, ''));
      }
    }
  }
  if (data.length > 0) yield data.join('\n');
}

/**
 * The conversation with the caller's context passages put first, as one system message
 * that quotes each passage under its source — for providers that read context as text.
 */
export function withContext(messages: ChatMessage[], context?: ContextPassage[]): ChatMessage[] {
  if (!context?.length) return messages;
  const passages = context.map((p, i) => `[${i + 1}] ${p.source}\n${p.text}`).join('\n\n');
  return [
    {
      role: 'system',
      content: `Answer from these passages where they apply, citing them by number.\n\n${passages}`,
    },
    ...messages,
  ];
}

/** A text with every occurrence of each secret replaced, for causes that end up in logs. */
export function redact(text: string, secrets: (string | undefined)[]): string {
  return secrets.reduce<string>((t, s) => (s ? t.split(s).join('[redacted]') : t), text);
}
