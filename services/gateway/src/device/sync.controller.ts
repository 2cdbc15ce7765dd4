import {
  ListBlobs,
  ListKeyShares,
  PushBlob,
  PutKeyShares,
  keySharesBody,
  listBlobsQuery,
} from '@heady/contracts';
import { ServiceRpc } from '../rpc/service-rpc.js';
import { Body, Controller, Get, HttpCode, Inject, Post, Query, Req, Res } from '@nestjs/common';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Access, principalOf } from '../auth/access.js';
import { ApiRoute } from '../openapi/route-doc.js';
import { parseOrThrow } from '../problem/validation.js';
import { actingOf, proofOf } from './acting-user.js';
import { ActsForUser, DeviceSigned } from './device-call.js';
import { DeviceStreamService } from './device-stream.service.js';
import { blobsReply, keySharesReply, keySharesStored, pushReply } from './device.schema.js';

/**
 * A user's end-to-end encrypted sync log. Writes and reads are signed by the device (its
 * proof of possession in the `X-Heady-Device*` headers); the server stores envelopes it
 * cannot read, chained by hash.
 */
@Controller('api/device-sync')
@Access('INTERNAL')
export class SyncController {
  constructor(
    @Inject(ServiceRpc) private readonly deviceSync: ServiceRpc,
    @Inject(DeviceStreamService) private readonly streams: DeviceStreamService,
  ) {}

  @ApiRoute({
    summary: "Append an encrypted blob to the user's sync log",
    description:
      'The body is a v1 envelope `{v, alg: "xchacha20poly1305", kid, nonce, ct, seq, prev, device, sig}` signed by the device; anything else is 422 ENVELOPE_INVALID. 409 SYNC_CONFLICT (with `head`) unless `seq`/`prev` continue the head.',
    body: z.object({}).passthrough(),
    success: { status: 201, description: "the log's new head", schema: pushReply },
    problems: [400, 404, 409, 415, 422, 503],
  })
  @ActsForUser()
  @DeviceSigned()
  @Post()
  @HttpCode(201)
  push(@Body() body: unknown, @Req() req: FastifyRequest): Promise<z.infer<typeof pushReply>> {
    return this.deviceSync.call(
      PushBlob,
      { ...actingOf(req), proof: proofOf(req), envelope: body },
      pushReply,
    );
  }

  @ApiRoute({
    summary: "Page through the user's sync log after a sequence number",
    query: listBlobsQuery,
    success: { status: 200, description: 'blobs after `after`, and the head', schema: blobsReply },
    problems: [404, 422, 503],
  })
  @ActsForUser()
  @DeviceSigned()
  @Get()
  list(@Query() query: unknown, @Req() req: FastifyRequest): Promise<z.infer<typeof blobsReply>> {
    const q = parseOrThrow(listBlobsQuery, query, 'query');
    return this.deviceSync.call(
      ListBlobs,
      { ...actingOf(req), proof: proofOf(req), ...q },
      blobsReply,
    );
  }

  @ApiRoute({
    summary: 'Store a content key sealed to each of the user’s devices',
    body: keySharesBody,
    success: { status: 201, description: 'how many shares were new', schema: keySharesStored },
    problems: [400, 404, 415, 422, 503],
  })
  @ActsForUser()
  @DeviceSigned()
  @Post('keys')
  @HttpCode(201)
  putKeys(
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ): Promise<z.infer<typeof keySharesStored>> {
    const b = parseOrThrow(keySharesBody, body, 'body');
    return this.deviceSync.call(
      PutKeyShares,
      { ...actingOf(req), proof: proofOf(req), ...b },
      keySharesStored,
    );
  }

  @ApiRoute({
    summary: 'The content keys sealed to the requesting device',
    success: { status: 200, description: 'the sealed keys', schema: keySharesReply },
    problems: [404, 422, 503],
  })
  @ActsForUser()
  @DeviceSigned()
  @Get('keys')
  listKeys(@Req() req: FastifyRequest): Promise<z.infer<typeof keySharesReply>> {
    return this.deviceSync.call(
      ListKeyShares,
      { ...actingOf(req), proof: proofOf(req) },
      keySharesReply,
    );
  }

  @ApiRoute({
    summary: "New blobs of the user's sync log as server-sent events",
    description:
      '`event: blob`, data `{seq, hash, device}` (never the envelope): pull `GET /api/device-sync?after=` to read it. Ends after HEADY_SSE_IDLE_TIMEOUT_MS without a blob.',
    success: {
      status: 200,
      description: 'an event stream',
      contentType: 'text/event-stream',
      schema: { type: 'string' },
    },
    problems: [404, 422, 503],
  })
  @ActsForUser()
  @DeviceSigned()
  @Get('events')
  async events$(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const acting = actingOf(req);
    // the device's proof and the user are checked before the stream opens (401/404), by
    // device-sync, as for a pull of the log's head
    await this.deviceSync.call(
      ListBlobs,
      { ...acting, proof: proofOf(req), after: 0, limit: 1 },
      blobsReply,
    );
    const lease = await this.streams.admit(principalOf(req).keyId);
    reply.hijack();
    await this.streams.serve(lease, acting.orgId, acting.userId, reply.raw);
  }
}
