import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ReadinessRegistry } from '@heady/telemetry';
import { type FastifyReply } from 'fastify';
import { Access } from '../auth/access.js';

/** `GET /api/health`: the gateway and the dependencies it needs (PostgreSQL, NATS). */
@Controller('api')
@Access('PUBLIC')
export class HealthController {
  constructor(@Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry) {}

  @Get('health')
  async health(@Res() reply: FastifyReply): Promise<void> {
    const report = await this.readiness.check();
    await reply
      .status(report.ready ? 200 : 503)
      .send({ status: report.ready ? 'ok' : 'degraded', checks: report.checks });
  }
}
