import { CLEARANCES } from '@heady/db';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { describe, expect, it } from 'vitest';
import { ApiKeysController } from '../admin/api-keys.controller.js';
import { BrainController } from '../brain/brain.controller.js';
import { HealthController } from '../health/health.controller.js';
import { MemoryController } from '../memory/memory.controller.js';
import { RunsController } from '../runs/runs.controller.js';
import { ACCESS_CLASS } from './access.js';

const CONTROLLERS = [
  RunsController,
  MemoryController,
  HealthController,
  ApiKeysController,
  BrainController,
];

describe('access classes', () => {
  it('are declared by every route of the gateway', () => {
    let routes = 0;
    for (const ctl of CONTROLLERS) {
      const proto = ctl.prototype as unknown as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (
          name === 'constructor' ||
          typeof handler !== 'function' ||
          Reflect.getMetadata(PATH_METADATA, handler) === undefined
        )
          continue;
        expect(Reflect.getMetadata(METHOD_METADATA, handler)).toBeDefined();
        routes++;
        const cls = (Reflect.getMetadata(ACCESS_CLASS, handler) ??
          Reflect.getMetadata(ACCESS_CLASS, ctl)) as unknown;
        expect(CLEARANCES, `${ctl.name}.${name}`).toContain(cls);
      }
    }
    expect(routes).toBeGreaterThanOrEqual(10);
  });
});
