import { Controller, Get, Inject } from '@nestjs/common';
import { z } from 'zod';
import { Access } from '../auth/access.js';
import { ApiRoute } from '../openapi/route-doc.js';
import { ProviderHealthRepository } from './provider-health.repository.js';

const isoTime = z.iso.datetime({ offset: true });

/** What `GET /api/providers/health` answers. */
export const providersHealth = z.object({
  /** True when no provider's breaker is open. */
  healthy: z.boolean(),
  providers: z.array(
    z.object({
      name: z.string(),
      state: z.enum(['closed', 'open']),
      since: isoTime,
      /** When an open breaker tries its provider again. */
      retryAt: isoTime.nullable(),
      /** The workers process whose breaker changed last. */
      reportedBy: z.string(),
    }),
  ),
});

/**
 * The model providers' circuit breakers, as the workers share them: which providers are
 * being skipped (open) and when they will be tried again. Deployment-wide: providers serve
 * every organization, and nothing here belongs to one.
 */
@Controller('api/providers')
@Access('INTERNAL')
export class ProvidersController {
  constructor(
    @Inject(ProviderHealthRepository) private readonly health: ProviderHealthRepository,
  ) {}

  @ApiRoute({
    summary: "The model providers' circuit breakers: open ones are skipped until retryAt",
    success: {
      status: 200,
      description: 'every provider the workers reported',
      schema: providersHealth,
    },
    problems: [503],
  })
  @Get('health')
  async get(): Promise<z.infer<typeof providersHealth>> {
    const all = await this.health.all();
    const now = Date.now();
    const providers = all.map((b) => {
      // an open breaker whose time is up is half-open: the next task tries it
      const open = b.state === 'open' && (b.until === null || b.until > now);
      return {
        name: b.provider,
        state: open ? ('open' as const) : ('closed' as const),
        since: new Date(b.since).toISOString(),
        retryAt: open && b.until !== null ? new Date(b.until).toISOString() : null,
        reportedBy: b.instance,
      };
    });
    return { healthy: providers.every((p) => p.state === 'closed'), providers };
  }
}
