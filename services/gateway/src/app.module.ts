import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { ApiKeysController } from './admin/api-keys.controller.js';
import { ApiKeysRepository } from './admin/api-keys.repository.js';
import { ApiKeysService } from './admin/api-keys.service.js';
import { AccessAuditRepository } from './auth/access-audit.repository.js';
import { AccessGuard } from './auth/access.guard.js';
import { AuthRepository } from './auth/auth.repository.js';
import { AuthService } from './auth/auth.service.js';
import { ApiKeyChangesRepository } from './auth/api-key-changes.repository.js';
import { IdempotencyInterceptor } from './idempotency/idempotency.interceptor.js';
import { IdempotencyRepository } from './idempotency/idempotency.repository.js';
import { PlansRepository } from './tiers/plans.repository.js';
import { TierCacheRepository } from './tiers/tier-cache.repository.js';
import { TierEventsController } from './tiers/tier-events.controller.js';
import { TiersService } from './tiers/tiers.service.js';
import { BrainController } from './brain/brain.controller.js';
import { BillingController } from './billing/billing.controller.js';
import { BanAuditRepository } from './ratelimit/ban-audit.repository.js';
import { RateLimitRepository } from './ratelimit/rate-limit.repository.js';
import { RateLimitService } from './ratelimit/rate-limit.service.js';
import { HealthController } from './health/health.controller.js';
import { MemoryController } from './memory/memory.controller.js';
import { KnowledgeController } from './knowledge/knowledge.controller.js';
import { ProblemFilter } from './problem/problem.filter.js';
import { ConductorClient } from './runs/conductor.client.js';
import { RunsController } from './runs/runs.controller.js';
import { RunEventsRepository } from './runs/run-events.repository.js';
import { LiveTokensRepository } from './runs/live-tokens.repository.js';
import { RunsReadRepository } from './runs/runs.repository.js';
import { RunsService } from './runs/runs.service.js';
import { RunStreamService } from './runs/run-stream.service.js';
import { StreamLeasesRepository } from './runs/stream-leases.repository.js';
import { WhoamiController } from './whoami/whoami.controller.js';
import { ModelsRepository } from './openai/models.repository.js';
import { ProviderHealthRepository } from './providers/provider-health.repository.js';
import { ProvidersController } from './providers/providers.controller.js';
import { OpenAiController } from './openai/openai.controller.js';
import { OpenAiService } from './openai/openai.service.js';
import { ConsentsController } from './device/consents.controller.js';
import { ServiceRpc } from './rpc/service-rpc.js';
import { DeviceEventsRepository } from './device/device-events.repository.js';
import { DeviceStreamService } from './device/device-stream.service.js';
import { DevicesController } from './device/devices.controller.js';
import { SyncController } from './device/sync.controller.js';

/** Every controller of the gateway (the OpenAPI document reads their route metadata). */
export const GATEWAY_CONTROLLERS: readonly Type[] = [
  RunsController,
  MemoryController,
  KnowledgeController,
  HealthController,
  ApiKeysController,
  BrainController,
  WhoamiController,
  TierEventsController,
  OpenAiController,
  ProvidersController,
  BillingController,
  ConsentsController,
  DevicesController,
  SyncController,
];

/** The public REST door. */
@Module({})
export class GatewayModule {
  static register(runtime: DynamicModule): DynamicModule {
    return {
      module: GatewayModule,
      imports: [runtime],
      controllers: [...GATEWAY_CONTROLLERS],
      providers: [
        RunsService,
        RunsReadRepository,
        ConductorClient,
        AuthRepository,
        ApiKeyChangesRepository,
        AccessAuditRepository,
        AuthService,
        RateLimitRepository,
        RateLimitService,
        BanAuditRepository,
        ApiKeysRepository,
        ApiKeysService,
        RunEventsRepository,
        LiveTokensRepository,
        StreamLeasesRepository,
        RunStreamService,
        ModelsRepository,
        ProviderHealthRepository,
        OpenAiService,
        ServiceRpc,
        DeviceEventsRepository,
        DeviceStreamService,
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_GUARD, useClass: AccessGuard },
        IdempotencyRepository,
        PlansRepository,
        TierCacheRepository,
        TiersService,
        { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
      ],
    };
  }
}
