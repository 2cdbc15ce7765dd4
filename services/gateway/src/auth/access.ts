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

/** The access class a route ends up with: its own, else its controller's, else by path (fail closed under /api). */
export function routeClass(declared: Classification | undefined, path: string): Classification {
  return declared ?? (path.startsWith('/api') ? 'RESTRICTED' : 'PUBLIC');
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

export function setCaller(req: object, caller: Caller): void {
  (req as { heady?: Caller }).heady = caller;
}
