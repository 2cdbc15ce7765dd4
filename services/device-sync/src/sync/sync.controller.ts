import { HandleRpc } from '@heady/bus';
import {
  ListBlobs,
  ListKeyShares,
  PushBlob,
  PutKeyShares,
  type RpcHandled,
  type RpcReply,
} from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { SyncService } from './sync.service.js';

/** `device.blobs.*` and `device.keys.*`: every one carries the device's proof of possession. */
@Controller()
export class SyncController {
  constructor(@Inject(SyncService) private readonly sync: SyncService) {}

  @HandleRpc(PushBlob)
  push(@Payload() req: RpcHandled<typeof PushBlob>): Promise<RpcReply<typeof PushBlob>> {
    return this.sync.push(req);
  }

  @HandleRpc(ListBlobs)
  list(@Payload() req: RpcHandled<typeof ListBlobs>): Promise<RpcReply<typeof ListBlobs>> {
    return this.sync.list(req);
  }

  @HandleRpc(PutKeyShares)
  putKeys(@Payload() req: RpcHandled<typeof PutKeyShares>): Promise<RpcReply<typeof PutKeyShares>> {
    return this.sync.putKeys(req);
  }

  @HandleRpc(ListKeyShares)
  listKeys(
    @Payload() req: RpcHandled<typeof ListKeyShares>,
  ): Promise<RpcReply<typeof ListKeyShares>> {
    return this.sync.listKeys(req);
  }
}
