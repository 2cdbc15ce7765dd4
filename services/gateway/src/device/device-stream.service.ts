import { type GatewayConfig } from '@heady/config';
import { TooManyStreamsError } from '@heady/contracts';
import { CONFIG } from '@heady/runtime';
import { type BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { type ServerResponse } from 'node:http';
import { type StreamLease, StreamLeasesRepository } from '../runs/stream-leases.repository.js';
import { DeviceEventsRepository } from './device-events.repository.js';

/**
 * Serves a user's sync announcements as server-sent events (`event: blob`, data `{seq,
 * hash, device}`) until the client leaves, `HEADY_SSE_IDLE_TIMEOUT_MS` passes without one,
 * or the gateway stops. Streams count against the API key's cap like run streams.
 */
@Injectable()
export class DeviceStreamService implements BeforeApplicationShutdown {
  private readonly open = new Set<() => void>();

  constructor(
    @Inject(DeviceEventsRepository) private readonly events: DeviceEventsRepository,
    @Inject(StreamLeasesRepository) private readonly leases: StreamLeasesRepository,
    @Inject(CONFIG) private readonly config: GatewayConfig,
  ) {}

  async admit(keyId: string): Promise<StreamLease> {
    const { maxPerKey, idleTimeoutMs } = this.config.eventStreams;
    const lease = await this.leases.acquire(keyId, maxPerKey);
    if (!lease) throw new TooManyStreamsError(maxPerKey, Math.ceil(idleTimeoutMs / 1000));
    return lease;
  }

  async serve(
    lease: StreamLease,
    orgId: string,
    userId: string,
    out: ServerResponse,
  ): Promise<void> {
    const { idleTimeoutMs, keepAliveMs } = this.config.eventStreams;
    const abort = new AbortController();
    const end = (): void => abort.abort();
    this.open.add(end);
    out.on('close', end);
    if (!out.socket || out.socket.destroyed) end();
    let idle = setTimeout(end, idleTimeoutMs);
    const keepAlive = setInterval(() => out.write(': keep-alive\n\n'), keepAliveMs);
    out.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    out.write(': sync events\n\n');
    try {
      for await (const a of this.events.follow(orgId, userId, abort.signal)) {
        clearTimeout(idle);
        idle = setTimeout(end, idleTimeoutMs);
        out.write(`id: ${a.seq}\nevent: blob\ndata: ${JSON.stringify(a)}\n\n`);
      }
    } catch (err) {
      out.write(`event: error\ndata: ${JSON.stringify({ detail: String(err) })}\n\n`);
    } finally {
      clearTimeout(idle);
      clearInterval(keepAlive);
      this.open.delete(end);
      out.end();
      await lease.release();
    }
  }

  beforeApplicationShutdown(): void {
    for (const end of this.open) end();
  }
}
