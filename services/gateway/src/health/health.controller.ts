import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ReadinessRegistry } from '@heady/telemetry';
import { type FastifyReply } from 'fastify';
import { Access } from '../auth/access.js';
import { ApiRoute } from '../openapi/route-doc.js';

/** `GET /api/health`: the gateway and the dependencies it needs (PostgreSQL, NATS). */
@Controller('api')
@Access('PUBLIC')
export class HealthController {
  constructor(@Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry) {}

  @ApiRoute({
    summary: 'The gateway and the dependencies it needs (PostgreSQL, NATS)',
    success: { status: 200, description: 'ok (503 with the same shape when degraded)' },
  })
  @Get('health')
  async health(@Res() reply: FastifyReply): Promise<void> {
    const report = await this.readiness.check();
    await reply
      .status(report.ready ? 200 : 503)
      .send({ status: report.ready ? 'ok' : 'degraded', checks: report.checks });
  }
}
