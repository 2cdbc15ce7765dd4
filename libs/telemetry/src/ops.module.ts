import { type DynamicModule, Module } from '@nestjs/common';
import { LivenessController, OpsController } from './ops.controller.js';
import { type ReadinessCheck, ReadinessRegistry } from './readiness.js';

/** Options of {@link OpsModule.forRoot}. */
export interface OpsModuleOptions {
  /** Readiness checks registered at boot; more can be added later through {@link ReadinessRegistry}. */
  readiness?: Record<string, ReadinessCheck>;
  /**
   * `all` (default) mounts /healthz, /readyz and /metrics on the app; `liveness` only
   * /healthz, for an app whose port is public and whose ops endpoints are served apart
   * ({@link startOpsServer}).
   */
  endpoints?: 'all' | 'liveness';
}

/**
 * Mounts `/healthz`, `/readyz` and `/metrics` (see {@link OpsController}), or only `/healthz`,
 * on the app's HTTP adapter (Fastify) and provides {@link ReadinessRegistry} to the whole app.
 */
@Module({})
export class OpsModule {
  /** The module, global, with `options.readiness` already registered. */
  static forRoot(options: OpsModuleOptions = {}): DynamicModule {
    return {
      module: OpsModule,
      global: true,
      controllers: [options.endpoints === 'liveness' ? LivenessController : OpsController],
      providers: [
        {
          provide: ReadinessRegistry,
          useFactory: (): ReadinessRegistry => {
            const registry = new ReadinessRegistry();
            for (const [name, check] of Object.entries(options.readiness ?? {})) {
              registry.register(name, check);
            }
            return registry;
          },
        },
      ],
      exports: [ReadinessRegistry],
    };
  }
}
