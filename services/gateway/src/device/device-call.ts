import { ApiHeader } from '@nestjs/swagger';
import { applyDecorators } from '@nestjs/common';
import { ProofHeader } from '@heady/device-client';

/** Documents `X-Heady-User` on a route that acts for a user. */
export const ActsForUser = (): MethodDecorator =>
  ApiHeader({
    name: 'X-Heady-User',
    required: false,
    description:
      'the user (id) an organization key of role developer or admin acts for; omit with a key bound to a user',
  });

/** Documents the device's proof-of-possession headers on a device-signed route. */
export const DeviceSigned = (): MethodDecorator =>
  applyDecorators(
    ...Object.values(ProofHeader).map((name) =>
      ApiHeader({
        name,
        required: true,
        description:
          "the device's proof of possession: its id, the time (ms), a fresh nonce and its signature over method, path, body SHA-256, time and nonce (see docs/device-sync.md)",
      }),
    ),
  );
