import { BusPublisher, decode, Header } from '@heady/bus';
import { liveTokenSubject } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';

/** One text delta of a run's answer, as a worker sent it on `live.<runId>.token`. */
export interface LiveToken {
  runId: string;
  taskId: string;
  /** The worker's attempt at the task (a retried task streams again under a new one). */
  attempt: string;
  seq: number;
  text: string;
  /** True on the attempt's last message (its text is empty). */
  done: boolean;
}

/** A subscription to a run's tokens: iterate it; `close` ends the iteration. */
export interface LiveTokenSubscription extends AsyncIterable<LiveToken> {
  close(): void;
}

function isLiveToken(v: unknown): v is LiveToken {
  const t = v as Partial<LiveToken> | null;
  return (
    typeof t?.taskId === 'string' &&
    typeof t.attempt === 'string' &&
    typeof t.seq === 'number' &&
    typeof t.text === 'string'
  );
}

/**
 * A run's tokens as the workers write them, over core NATS (`live.<runId>.token`): at most
 * once, only while subscribed, and never for a RESTRICTED run (the durable record of the
 * answer is the run's `result.output`). Each message's signature is verified as on every
 * subject (against now: nothing here was stored); one that fails is skipped.
 */
@Injectable()
export class LiveTokensRepository {
  constructor(@Inject(BusPublisher) private readonly bus: BusPublisher) {}

  /** Subscribes now (so nothing sent after this returns is missed) to `runId`'s tokens. */
  subscribe(runId: string): LiveTokenSubscription {
    const sub = this.bus.connection.nc.subscribe(liveTokenSubject(runId));
    const verifier = this.bus.verifier;
    return {
      close: () => sub.unsubscribe(),
      async *[Symbol.asyncIterator]() {
        for await (const m of sub) {
          if (verifier) {
            const v = await verifier.verify({
              subject: m.subject,
              msgId: m.headers?.get(Header.MsgId) ?? '',
              contentType: m.headers?.get(Header.ContentType) ?? '',
              payload: m.data,
              header: (n) => m.headers?.get(n) || undefined,
              storedAt: Date.now(),
            });
            if (!v.ok) continue;
          }
          let t: unknown;
          try {
            t = decode(m.headers?.get(Header.ContentType), m.data);
          } catch {
            continue;
          }
          if (isLiveToken(t)) yield t;
        }
      },
    };
  }
}
