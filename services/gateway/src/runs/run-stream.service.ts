import { type GatewayConfig } from '@heady/config';
import { TooManyStreamsError } from '@heady/contracts';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { type BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { type ServerResponse } from 'node:http';
import { RunEventsRepository } from './run-events.repository.js';
import { LiveTokensRepository } from './live-tokens.repository.js';
import { type StreamLease, StreamLeasesRepository } from './stream-leases.repository.js';

/** Why a stream ended (logged). */
type EndReason = 'terminal' | 'idle' | 'client-left' | 'shutdown' | 'error';

/**
 * Serves a run's events as server-sent events, and ends every stream: after the run's
 * terminal event, after `HEADY_SSE_IDLE_TIMEOUT_MS` without a run event (keep-alive comments
 * are not activity: a stream nobody will ever write to again must not live forever), when
 * the client leaves (its JetStream consumer is deleted at once), or on shutdown. Each API
 * key holds at most `HEADY_SSE_MAX_PER_KEY` open streams across the gateways.
 */
@Injectable()
export class RunStreamService implements BeforeApplicationShutdown {
  private readonly open = new Set<(why: EndReason) => void>();

  constructor(
    @Inject(RunEventsRepository) private readonly events: RunEventsRepository,
    @Inject(LiveTokensRepository) private readonly tokens: LiveTokensRepository,
    @Inject(StreamLeasesRepository) private readonly leases: StreamLeasesRepository,
    @Inject(CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** Takes a stream slot of the API key `keyId`; throws {@link TooManyStreamsError} past the cap. */
  async admit(keyId: string): Promise<StreamLease> {
    const { maxPerKey, idleTimeoutMs } = this.config.eventStreams;
    const lease = await this.leases.acquire(keyId, maxPerKey);
    // a slot frees at the latest when some stream of the key idles out
    if (!lease) throw new TooManyStreamsError(maxPerKey, Math.ceil(idleTimeoutMs / 1000));
    return lease;
  }

  /**
   * Writes the head and then the events of `runId` after `afterSeq` to `out` until the
   * stream ends; releases `lease` when it does.
   */
  async serve(
    lease: StreamLease,
    runId: string,
    afterSeq: number,
    out: ServerResponse,
  ): Promise<void> {
    const { idleTimeoutMs, keepAliveMs } = this.config.eventStreams;
    const abort = new AbortController();
    const ended: { reason: EndReason } = { reason: 'terminal' };
    const end = (why: EndReason) => {
      if (abort.signal.aborted) return;
      ended.reason = why;
      abort.abort();
    };
    this.open.add(end);
    // the response, not the request: a request's 'close' says its body was read
    out.on('close', () => end('client-left'));
    // a client that left while the run was looked up is gone before 'close' had a listener
    if (!out.socket || out.socket.destroyed) end('client-left');
    let idle = setTimeout(() => end('idle'), idleTimeoutMs);
    const keepAlive = setInterval(() => out.write(': keep-alive\n\n'), keepAliveMs);
    out.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    out.write(': run events\n\n');
    // the answer's text as it is written, between the durable events: `event: token`, with
    // no id (a reconnect resumes the durable events; the final text is in run.succeeded's run)
    const live = this.tokens.subscribe(runId);
    const relay = (async () => {
      for await (const t of live) {
        if (t.done) continue;
        const data = { taskId: t.taskId, attempt: t.attempt, seq: t.seq, text: t.text };
        out.write(`event: token\ndata: ${JSON.stringify(data)}\n\n`);
      }
    })().catch(() => undefined);
    try {
      for await (const e of this.events.follow(runId, afterSeq, abort.signal)) {
        clearTimeout(idle);
        idle = setTimeout(() => end('idle'), idleTimeoutMs);
        out.write(`id: ${e.seq}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
      }
      if (ended.reason === 'idle')
        out.write(`: idle for ${idleTimeoutMs} ms; reconnect with Last-Event-ID to resume\n\n`);
    } catch (err) {
      ended.reason = 'error';
      out.write(`event: error\ndata: ${JSON.stringify({ detail: String(err) })}\n\n`);
    } finally {
      live.close();
      await relay;
      clearTimeout(idle);
      clearInterval(keepAlive);
      this.open.delete(end);
      out.end();
      await lease.release();
      this.log.debug({ run_id: runId, reason: ended.reason }, 'run event stream ended');
    }
  }

  /** Ends every open stream, so HTTP can close without waiting for them. */
  beforeApplicationShutdown(): void {
    for (const end of this.open) end('shutdown');
  }
}
