import {
  type Rpc,
  type RpcHandled,
  type RpcReply,
  SERVICE_NAMES,
  mayReceive,
  parseRpcRequest,
} from '@heady/contracts';
import { MessagePattern } from '@nestjs/microservices';

type Handler<R extends Rpc> = (req: RpcHandled<R>) => Promise<RpcReply<R>>;

/**
 * Marks a method as the handler of `rpc` (a `@MessagePattern` on its catalog subject). The
 * method is typed by the RPC's definition; a JSON request is parsed by the RPC's schema
 * before the method runs (a request that does not fit is answered `VALIDATION_FAILED`).
 * Pair it with `@Payload()` on the method's parameter.
 */
export function HandleRpc<R extends Rpc>(rpc: R) {
  return (
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<Handler<R>>,
  ): TypedPropertyDescriptor<Handler<R>> => {
    const method = descriptor.value;
    if (!method) throw new Error(`@HandleRpc(${rpc.subject}) on ${String(key)}: not a method`);
    // a request that does not fit rejects, as the method itself would, never throws
    const handler = async function (this: unknown, req: unknown): Promise<RpcReply<R>> {
      return method.call(this, parseRpcRequest(rpc, req));
    };
    Object.defineProperty(handler, 'name', { value: method.name });
    descriptor.value = handler;
    MessagePattern(rpc.subject)(target, key, descriptor);
    return descriptor;
  };
}

/**
 * The handler patterns of `service` the bus catalog does not let it receive; empty when all
 * are granted, or when `service` is not one of Heady's services (a test's own server).
 */
export function ungrantedPatterns(service: string, patterns: Iterable<string>): string[] {
  if (!(SERVICE_NAMES as readonly string[]).includes(service)) return [];
  return [...patterns].filter((p) => !mayReceive(service, p));
}
