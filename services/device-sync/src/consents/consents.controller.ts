import { HandleRpc } from '@heady/bus';
import {
  ListConsents,
  PutConsent,
  RecordTracking,
  type RpcHandled,
  type RpcReply,
} from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { ConsentsService } from './consents.service.js';

/** `device.consents.*` and `device.tracking.record` (signed request/reply, queue group `device-sync`). */
@Controller()
export class ConsentsController {
  constructor(@Inject(ConsentsService) private readonly consents: ConsentsService) {}

  @HandleRpc(PutConsent)
  put(@Payload() req: RpcHandled<typeof PutConsent>): Promise<RpcReply<typeof PutConsent>> {
    return this.consents.put(req);
  }

  @HandleRpc(ListConsents)
  list(@Payload() req: RpcHandled<typeof ListConsents>): Promise<RpcReply<typeof ListConsents>> {
    return this.consents.list(req);
  }

  @HandleRpc(RecordTracking)
  track(
    @Payload() req: RpcHandled<typeof RecordTracking>,
  ): Promise<RpcReply<typeof RecordTracking>> {
    return this.consents.track(req);
  }
}
