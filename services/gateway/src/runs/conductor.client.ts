import { BusPublisher, isRemoteError } from '@heady/bus';
import { type GatewayConfig } from '@heady/config';
import {
  ErrorCode,
  HeadyError,
  isHeadyError,
  type RpcReply,
  type RpcRequest,
  StartRun,
  UnavailableError,
} from '@heady/contracts';
import { CONFIG } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';

/** What the gateway sends the conductor to start a run. */
export type StartRunRequest = RpcRequest<typeof StartRun>;
/** What the conductor answers when it admitted (or replayed) a run. */
export type StartRunReply = RpcReply<typeof StartRun>;

/**
 * The gateway's one way to the conductor: typed RPCs of the contracts catalog over the bus,
 * their failures raised as types the gateway's services and problem mapping decide on.
 */
@Injectable()
export class ConductorClient {
  constructor(
    @Inject(BusPublisher) private readonly bus: BusPublisher,
    @Inject(CONFIG) private readonly config: GatewayConfig,
  ) {}

  /**
   * Requests `conductor.runs.start` (signed, request/reply) and waits at most
   * `HEADY_NATS_RPC_TIMEOUT_MS` for the answer. A domain error the conductor answers comes
   * back as a `HeadyError` with its code and details (FORBIDDEN with `requiredPlan`, …);
   * no conductor answering in time (or the conductor reporting itself unavailable) is an
   * `UnavailableError` of `conductor`; anything else the bus raises is passed on unchanged.
   */
  async startRun(request: StartRunRequest): Promise<StartRunReply> {
    try {
      return await this.bus.call(StartRun, request, {
        timeoutMs: this.config.nats.rpcTimeoutMs,
      });
    } catch (err) {
      throw conductorError(err);
    }
  }
}

/** The typed form of what a call to the conductor failed with. */
function conductorError(err: unknown): unknown {
  if (!isRemoteError(err)) return err;
  if (err.code === ErrorCode.Unavailable) return new UnavailableError('conductor', { cause: err });
  if (isHeadyError(err)) return new HeadyError(err.code, err.message, err.details, { cause: err });
  return err;
}
