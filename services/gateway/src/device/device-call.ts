import { type Rpc, type RpcReply, type RpcRequest } from '@heady/contracts';
import { BusPublisher } from '@heady/bus';
import { type GatewayConfig } from '@heady/config';
import { CONFIG } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { applyDecorators } from '@nestjs/common';
import { ProofHeader } from '@heady/device-client';
import { type z } from 'zod';

/** One typed, signed request/reply to device-sync, its reply read through the route's documented schema. */
@Injectable()
export class DeviceSyncClient {
  constructor(
    @Inject(BusPublisher) private readonly bus: BusPublisher,
    @Inject(CONFIG) private readonly config: GatewayConfig,
  ) {}

  async call<R extends Rpc, S extends z.ZodType>(
    rpc: R,
    request: RpcRequest<R>,
    reply: S,
  ): Promise<z.infer<S>> {
    const answer: RpcReply<R> = await this.bus.call(rpc, request, {
      timeoutMs: this.config.nats.rpcTimeoutMs,
    });
    return reply.parse(answer);
  }
}

/** Documents `X-Heady-User` on a route that acts for a user. */
export const ActsForUser = (): MethodDecorator =>
  ApiHeader({
    name: 'X-Heady-User',
    required: false,
    description:
      'the user (id) an organization key of role developer or admin acts for; omit with a key bound to a user',
  });

/** Documents the device's proof-of-possession headers on a device-signed route. */
export const DeviceSigned = (): MethodDecorator =>
  applyDecorators(
    ...Object.values(ProofHeader).map((name) =>
      ApiHeader({
        name,
        required: true,
        description:
          "the device's proof of possession: its id, the time (ms), a fresh nonce and its signature over method, path, body SHA-256, time and nonce (see docs/device-sync.md)",
      }),
    ),
  );
