import { Controller, Get, Inject, Res } from '@nestjs/common';
import { type FastifyReply } from 'fastify';
import { metricsRegistry } from './metrics.js';
import { ReadinessRegistry } from './readiness.js';
import { Untraced } from './untraced.js';

/** `GET /healthz` alone: what a process whose ops endpoints live on another port keeps. */
@Untraced()
@Controller()
export class LivenessController {
  /** 200 `{ status: 'ok' }`. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }
}

/**
 * The ops endpoints: `GET /healthz` (200 while the process lives), `GET /readyz`
 * (200 when every readiness check passes, else 503 naming the failing ones) and
 * `GET /metrics` (Prometheus text). Probes and scrapes are left out of traces and HTTP metrics.
 */
@Untraced()
@Controller()
export class OpsController {
  constructor(@Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry) {}

  /** 200 `{ status: 'ok' }`. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** 200 `{ status: 'ready', checks }`, or 503 `{ status: 'not ready', checks, failing }`. */
  @Get('readyz')
  async readyz(@Res() reply: FastifyReply): Promise<void> {
    const { ready, checks, failing } = await this.readiness.check();
    await reply
      .status(ready ? 200 : 503)
      .send(ready ? { status: 'ready', checks } : { status: 'not ready', checks, failing });
  }

  /** The default registry in Prometheus text exposition format. */
  @Get('metrics')
  async metrics(@Res() reply: FastifyReply): Promise<void> {
    const body = await metricsRegistry.metrics();
    await reply.header('content-type', metricsRegistry.contentType).send(body);
  }
}
