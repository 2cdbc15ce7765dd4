import { ListDevices, RegisterDevice, RevokeDevice, registerDeviceBody } from '@heady/contracts';
import { ServiceRpc } from '../rpc/service-rpc.js';
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Access } from '../auth/access.js';
import { ApiRoute } from '../openapi/route-doc.js';
import { parseOrThrow } from '../problem/validation.js';
import { actingOf } from './acting-user.js';
import { ActsForUser } from './device-call.js';
import { deviceRecord, devicesReply } from './device.schema.js';

const deviceId = z.string().uuid();

/** A user's devices: register (with its public keys), list, revoke. */
@Controller('api/devices')
@Access('INTERNAL')
export class DevicesController {
  constructor(@Inject(ServiceRpc) private readonly deviceSync: ServiceRpc) {}

  @ApiRoute({
    summary: 'Register a device with its signing and key-agreement public keys',
    description:
      '`publicKey.sign`: Ed25519 (32 bytes) or composite ML-DSA-65 + Ed25519 (1984 bytes); `publicKey.kem`: ML-KEM-768 + X25519 (1216 bytes); base64. Needs the DEVICE_SYNC consent.',
    body: registerDeviceBody,
    success: { status: 201, description: 'the device', schema: deviceRecord },
    problems: [400, 404, 415, 422, 503],
  })
  @ActsForUser()
  @Post()
  @HttpCode(201)
  register(
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ): Promise<z.infer<typeof deviceRecord>> {
    const b = parseOrThrow(registerDeviceBody, body, 'body');
    return this.deviceSync.call(RegisterDevice, { ...actingOf(req), ...b }, deviceRecord);
  }

  @ApiRoute({
    summary: "The user's devices, revoked ones included",
    success: { status: 200, description: 'the devices', schema: devicesReply },
    problems: [404, 422, 503],
  })
  @ActsForUser()
  @Get()
  list(@Req() req: FastifyRequest): Promise<z.infer<typeof devicesReply>> {
    return this.deviceSync.call(ListDevices, actingOf(req), devicesReply);
  }

  @ApiRoute({
    summary: 'Revoke a device: its signed requests are refused from now on',
    params: { id: deviceId },
    success: { status: 200, description: 'the revoked device', schema: deviceRecord },
    problems: [404, 422, 503],
  })
  @ActsForUser()
  @Delete(':id')
  revoke(
    @Param('id') id: string,
    @Req() req: FastifyRequest,
  ): Promise<z.infer<typeof deviceRecord>> {
    const d = parseOrThrow(deviceId, id, 'path.id');
    return this.deviceSync.call(RevokeDevice, { ...actingOf(req), deviceId: d }, deviceRecord);
  }
}
