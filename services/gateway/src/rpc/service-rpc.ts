import { BusPublisher } from '@heady/bus';
import { type GatewayConfig } from '@heady/config';
import { type Rpc, type RpcReply, type RpcRequest } from '@heady/contracts';
import { CONFIG } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { type z } from 'zod';

/**
 * The gateway's door to the services behind it: one typed, signed request/reply per REST call
 * (vector memory, the knowledge vault, billing, device sync), its reply read through the
 * route's documented schema, so what a client gets is what the OpenAPI document says. A
 * service's error comes back as its domain error (mapped to problem+json at the edge); no
 * answer within the timeout is `UNAVAILABLE` (503).
 */
@Injectable()
export class ServiceRpc {
  constructor(
    @Inject(BusPublisher) private readonly bus: BusPublisher,
    @Inject(CONFIG) private readonly config: GatewayConfig,
  ) {}

  /** Calls `rpc` with `request` and parses the reply with `reply`; waits `timeoutMs` (HEADY_RPC_TIMEOUT_MS by default). */
  async call<R extends Rpc, S extends z.ZodType>(
    rpc: R,
    request: RpcRequest<R>,
    reply: S,
    timeoutMs = this.config.nats.rpcTimeoutMs,
  ): Promise<z.infer<S>> {
    const answer: RpcReply<R> = await this.bus.call(rpc, request, { timeoutMs });
    return reply.parse(answer);
  }
}
