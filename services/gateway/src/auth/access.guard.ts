import { type Classification, type Plan } from '@heady/db';
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { RateLimitService } from '../ratelimit/rate-limit.service.js';
import { ACCESS_CLASS, REQUIRED_PLANS, routeClass, setCaller } from './access.js';
import { AuthService } from './auth.service.js';

/**
 * Global guard: authenticates the caller, refuses a banned IP or organization, counts the
 * request against its rate limit (organization plan, or client IP when anonymous) and
 * enforces the route's access class, then its plan requirement (`@RequiresPlan`). A route
 * under /api that forgot to declare a class is RESTRICTED (fail closed); the ops
 * endpoints outside /api (/healthz, /readyz, /metrics) are PUBLIC.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(AuthService) private readonly auth: AuthService,
    @Inject(RateLimitService) private readonly limits: RateLimitService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const declared = this.reflector.getAllAndOverride<Classification | undefined>(ACCESS_CLASS, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    const path = req.url.split('?')[0] ?? req.url;
    const need = routeClass(declared, path);
    const caller = await this.auth.authenticate(req.headers.authorization);
    setCaller(req, caller);
    if (path.startsWith('/api')) {
      const reply = ctx.switchToHttp().getResponse<FastifyReply>();
      const ip = this.limits.clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for']);
      const keyPrefix = /^Bearer\s+(hk_[A-Za-z0-9_-]{8})/.exec(
        req.headers.authorization ?? '',
      )?.[1];
      const facts = {
        route: `${req.method} ${req.routeOptions.url ?? path}`,
        ...(keyPrefix ? { keyPrefix } : {}),
      };
      try {
        void reply.headers(await this.limits.admit(caller, ip, facts));
      } catch (e) {
        const headers = (e as { headers?: Record<string, string> }).headers;
        if (headers) void reply.headers(headers);
        throw e;
      }
    }
    const route = `${req.method} ${req.routeOptions.url ?? path}`;
    this.auth.authorize(caller, need, route);
    const plans = this.reflector.getAllAndOverride<Plan[] | undefined>(REQUIRED_PLANS, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    if (plans) this.auth.requirePlan(caller, plans, route);
    return true;
  }
}
