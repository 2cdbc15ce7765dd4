import { UnauthenticatedError } from '@heady/contracts';
import { type ApiKeyPrincipal, type Classification, type Plan } from '@heady/db';
import { SetMetadata } from '@nestjs/common';

/** Metadata key of a route's access class. */
export const ACCESS_CLASS = 'heady:access-class';

/**
 * Declares the access class of a controller or route: callers whose clearance is below it
 * get 403. PUBLIC routes also accept anonymous callers; every other class needs an API key.
 */
export const Access = (cls: Classification): MethodDecorator & ClassDecorator =>
  SetMetadata(ACCESS_CLASS, cls);

/** Metadata key of the plans a route is reserved for. */
export const REQUIRED_PLANS = 'heady:required-plans';

/**
 * Reserves a route for organizations on one of `plans` (checked by the access guard after
 * the access class): any other caller gets 403 naming the plan required.
 */
export const RequiresPlan = (...plans: Plan[]): MethodDecorator & ClassDecorator =>
  SetMetadata(REQUIRED_PLANS, plans);

/** The access class a route ends up with: its own, else its controller's, else by path (fail closed under /api and /v1). */
export function routeClass(declared: Classification | undefined, path: string): Classification {
  return declared ?? (isApiPath(path) ? 'RESTRICTED' : 'PUBLIC');
}

/** True for the client API's paths (`/api/...`, `/v1/...`): keyed, limited, banned, audited. */
export function isApiPath(path: string): boolean {
  return /^\/(api|v1)(\/|$)/.test(path);
}

/**
 * The path pattern the router matched (`/api/runs/:id`), never the raw URL: `/%61pi/runs`
 * and `/api/runs` are one route to the router, so they must be one route to every decision
 * (access class, plan, rate limit, ban, idempotency scope). Undefined when no route matched.
 */
export function matchedPath(req: { routeOptions?: { url?: string } }): string | undefined {
  return req.routeOptions?.url;
}

/** `METHOD /matched/:pattern`, as rate limits, audits and idempotency scopes name a route. */
export function matchedRoute(req: { method: string; routeOptions?: { url?: string } }): string {
  return `${req.method} ${matchedPath(req) ?? '(unmatched)'}`;
}

/** Who is calling, attached to the request by the access guard. */
export interface Caller {
  /** undefined for an anonymous caller. */
  principal: ApiKeyPrincipal | undefined;
  clearance: Classification;
}

/** The caller the access guard attached to `req`. */
export function callerOf(req: object): Caller {
  return (req as { heady?: Caller }).heady ?? { principal: undefined, clearance: 'PUBLIC' };
}

/** The API key behind the request; routes above PUBLIC have one (the access guard saw to it). */
export function principalOf(req: object): ApiKeyPrincipal {
  const principal = callerOf(req).principal;
  if (!principal) throw new UnauthenticatedError('this route needs an API key');
  return principal;
}

export function setCaller(req: object, caller: Caller): void {
  (req as { heady?: Caller }).heady = caller;
}
