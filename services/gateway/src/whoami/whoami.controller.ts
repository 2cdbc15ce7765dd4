import { CLASSIFICATIONS, PLANS, ROLES, UnauthenticatedError } from '@heady/contracts';
import { Controller, Get, Req } from '@nestjs/common';
import { type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Access, callerOf } from '../auth/access.js';
import { ApiRoute } from '../openapi/route-doc.js';

/** What `GET /api/whoami` answers. */
export const whoamiResponse = z.object({
  organization: z.object({ id: z.string(), name: z.string() }),
  plan: z.enum(PLANS),
  role: z.enum(ROLES),
  clearance: z.enum(CLASSIFICATIONS),
  key: z.object({ id: z.string(), prefix: z.string() }),
});
export type Whoami = z.infer<typeof whoamiResponse>;

/** The key's first 11 characters (`hk_` + 8), as API key listings show it. */
const KEY_PREFIX = /^Bearer\s+(hk_[A-Za-z0-9_-]{8})/;

/** Who the caller is, as the gateway sees it: cheap (no I/O beyond authentication and the rate limit). */
@Controller('api')
@Access('PUBLIC')
export class WhoamiController {
  @ApiRoute({
    summary: 'The caller: organization, plan in force, role, clearance and key prefix',
    description:
      'Needs an API key of any role (401 without one). Counts against the rate limit like any /api route.',
    success: { status: 200, description: 'the caller', schema: whoamiResponse },
  })
  @Get('whoami')
  whoami(@Req() req: FastifyRequest): Whoami {
    const { principal, clearance } = callerOf(req);
    if (!principal)
      throw new UnauthenticatedError(
        'GET /api/whoami needs an API key (Authorization: Bearer hk_...)',
      );
    return {
      organization: { id: principal.orgId, name: principal.orgName },
      plan: principal.plan,
      role: principal.role,
      clearance,
      key: {
        id: principal.keyId,
        prefix: KEY_PREFIX.exec(req.headers.authorization ?? '')?.[1] ?? '',
      },
    };
  }
}
