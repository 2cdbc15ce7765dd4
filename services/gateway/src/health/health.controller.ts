import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ReadinessRegistry } from '@heady/telemetry';
import { type FastifyReply } from 'fastify';
import { Access } from '../auth/access.js';
import { ApiRoute } from '../openapi/route-doc.js';
import { z } from 'zod';

/** What `GET /api/health` answers, 200 (ok) or 503 (degraded) alike. */
export const healthReply = z.object({
  status: z.enum(['ok', 'degraded']),
  /** Each dependency's check by name. */
  checks: z.record(z.string(), z.enum(['ok', 'failing', 'error', 'timeout'])),
});

/** `GET /api/health`: the gateway and the dependencies it needs (PostgreSQL, NATS). */
@Controller('api')
@Access('PUBLIC')
export class HealthController {
  constructor(@Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry) {}

  @ApiRoute({
    summary: 'The gateway and the dependencies it needs (PostgreSQL, NATS)',
    success: { status: 200, description: 'ok', schema: healthReply },
    also: [{ status: 503, description: 'degraded: a dependency fails', schema: healthReply }],
  })
  @Get('health')
  async health(@Res() reply: FastifyReply): Promise<void> {
    const report = await this.readiness.check();
    const body: z.infer<typeof healthReply> = {
      status: report.ready ? 'ok' : 'degraded',
      checks: report.checks,
    };
    await reply.status(report.ready ? 200 : 503).send(body);
  }
}
