import { type Classification, type Plan } from '@heady/db';
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { RateLimitService, type RequestFacts } from '../ratelimit/rate-limit.service.js';
import {
  ACCESS_CLASS,
  type Caller,
  REQUIRED_PLANS,
  isApiPath,
  matchedPath,
  matchedRoute,
  routeClass,
  setCaller,
} from './access.js';
import { AuthService } from './auth.service.js';

/**
 * Global guard: refuses a banned address, authenticates the caller, refuses a banned
 * organization, counts the request against its rate limit (organization plan, or client
 * IP when anonymous) and enforces the route's access class, then its plan requirement
 * (`@RequiresPlan`). A route under /api or /v1 that forgot to declare a class is
 * RESTRICTED (fail closed); the ops endpoints (/healthz, /readyz, /metrics) are PUBLIC.
 *
 * Every decision is taken on the path the router matched (`/api/runs/:id`), never on the
 * raw URL: `/%61pi/runs` reaches the same handler as `/api/runs`, so it gets the same
 * limit, ban and gate. A key that is not in the in-process cache is looked up only after
 * the address passed its ban and failed-key window, so those refusals cost no query.
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
    const path = matchedPath(req);
    // a handler ran without a matched route: nothing to decide on, so the strictest answer
    const api = path === undefined || isApiPath(path);
    const need = routeClass(declared, path ?? '/api');
    const route = matchedRoute(req);
    const reply = ctx.switchToHttp().getResponse<FastifyReply>();
    const client = this.limits.client(req.socket.remoteAddress, req.headers['x-forwarded-for']);
    const keyPrefix = /^Bearer\s+(hk_[A-Za-z0-9_-]{8})/.exec(req.headers.authorization ?? '')?.[1];
    const facts: RequestFacts = { route, ...(keyPrefix ? { keyPrefix } : {}) };
    let caller: Caller;
    try {
      // every route, /api or not: a key reaches PostgreSQL only past the address's screen
      caller = await this.auth.authenticate(req.headers.authorization, {
        before: () => this.limits.screen(client, facts),
        failed: () => this.limits.authFailed(client, facts),
      });
      setCaller(req, caller);
      if (api) void reply.headers(await this.limits.admit(caller, client, facts));
    } catch (e) {
      const headers = (e as { headers?: Record<string, string> }).headers;
      if (headers) void reply.headers(headers);
      throw e;
    }
    this.auth.authorize(caller, need, route);
    const plans = this.reflector.getAllAndOverride<Plan[] | undefined>(REQUIRED_PLANS, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    if (plans) this.auth.requirePlan(caller, plans, route);
    return true;
  }
}
