import { type ApiKeyPrincipal } from '@heady/db';
import { type Classification } from '@heady/db';
import { SetMetadata } from '@nestjs/common';

/** Metadata key of a route's access class. */
export const ACCESS_CLASS = 'heady:access-class';

/**
 * Declares the access class of a controller or route: callers whose clearance is below it
 * get 403. PUBLIC routes also accept anonymous callers; every other class needs an API key.
 */
export const Access = (cls: Classification): MethodDecorator & ClassDecorator =>
  SetMetadata(ACCESS_CLASS, cls);

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
