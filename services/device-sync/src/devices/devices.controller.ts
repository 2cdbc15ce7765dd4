import { HandleRpc } from '@heady/bus';
import {
  ListDevices,
  RegisterDevice,
  RevokeDevice,
  type RpcHandled,
  type RpcReply,
} from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { DevicesService } from './devices.service.js';

/** `device.devices.*`. */
@Controller()
export class DevicesController {
  constructor(@Inject(DevicesService) private readonly devices: DevicesService) {}

  @HandleRpc(RegisterDevice)
  register(
    @Payload() req: RpcHandled<typeof RegisterDevice>,
  ): Promise<RpcReply<typeof RegisterDevice>> {
    return this.devices.register(req);
  }

  @HandleRpc(ListDevices)
  list(@Payload() req: RpcHandled<typeof ListDevices>): Promise<RpcReply<typeof ListDevices>> {
    return this.devices.list(req);
  }

  @HandleRpc(RevokeDevice)
  revoke(@Payload() req: RpcHandled<typeof RevokeDevice>): Promise<RpcReply<typeof RevokeDevice>> {
    return this.devices.revoke(req);
  }
}
