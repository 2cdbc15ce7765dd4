import {
  ListConsents,
  PutConsent,
  RecordTracking,
  consentScope,
  putConsentBody,
  trackingBody,
} from '@heady/contracts';
import { ServiceRpc } from '../rpc/service-rpc.js';
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Put, Req } from '@nestjs/common';
import { type FastifyRequest } from 'fastify';
import { type z } from 'zod';
import { Access } from '../auth/access.js';
import { ApiRoute } from '../openapi/route-doc.js';
import { parseOrThrow } from '../problem/validation.js';
import { actingOf } from './acting-user.js';
import { ActsForUser } from './device-call.js';
import { consentsReply, putConsentReply, trackingReply } from './device.schema.js';

/** A user's consents and the tracking they allow; each route is a signed request to device-sync. */
@Controller('api')
@Access('INTERNAL')
export class ConsentsController {
  constructor(@Inject(ServiceRpc) private readonly deviceSync: ServiceRpc) {}

  @ApiRoute({
    summary: "Grant or revoke one of the user's consents",
    description:
      'Every change is kept (granted_at, revoked_at) and audited. Revoking TRACKING stops collection at once; with `erase: true` it also deletes the events collected.',
    params: { scope: consentScope },
    body: putConsentBody,
    success: { status: 200, description: 'the consent as now recorded', schema: putConsentReply },
    problems: [400, 404, 415, 422, 503],
  })
  @ActsForUser()
  @Put('consents/:scope')
  put(
    @Param('scope') scope: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ): Promise<z.infer<typeof putConsentReply>> {
    const s = parseOrThrow(consentScope, scope, 'path.scope');
    const b = parseOrThrow(putConsentBody, body, 'body');
    return this.deviceSync.call(PutConsent, { ...actingOf(req), scope: s, ...b }, putConsentReply);
  }

  @ApiRoute({
    summary: "The user's consents: current state and every change",
    success: { status: 200, description: 'the consents', schema: consentsReply },
    problems: [404, 422, 503],
  })
  @ActsForUser()
  @Get('consents')
  list(@Req() req: FastifyRequest): Promise<z.infer<typeof consentsReply>> {
    return this.deviceSync.call(ListConsents, actingOf(req), consentsReply);
  }

  @ApiRoute({
    summary: 'Record a tracking event (needs the TRACKING consent)',
    description:
      'Stored minimised: no IP address, only the properties allow-listed by HEADY_TRACKING_PROPERTIES. 403 CONSENT_REQUIRED (scope TRACKING) unless the consent is granted.',
    body: trackingBody,
    success: { status: 202, description: 'accepted and stored', schema: trackingReply },
    problems: [400, 404, 415, 422, 503],
  })
  @ActsForUser()
  @Post('tracking')
  @HttpCode(202)
  track(@Body() body: unknown, @Req() req: FastifyRequest): Promise<z.infer<typeof trackingReply>> {
    const b = parseOrThrow(trackingBody, body, 'body');
    return this.deviceSync.call(RecordTracking, { ...actingOf(req), ...b }, trackingReply);
  }
}
