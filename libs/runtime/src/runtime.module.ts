import { type CommonConfig } from '@heady/config';
import { BusPublisher, closeBus } from '@heady/bus';
import { createDb, sql, type Database, type Kysely } from '@heady/db';
import { type Logger, OpsModule, ReadinessRegistry } from '@heady/telemetry';
import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { CONFIG, DB, LOGGER } from './tokens.js';

/** Closes the pool and the bus connection when Nest shuts down, and registers their readiness checks. */
@Injectable()
class RuntimeLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(DB) private readonly db: Kysely<Database>,
    @Inject(BusPublisher) private readonly publisher: BusPublisher,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
  ) {}

  onModuleInit(): void {
    this.readiness.register('postgres', async () => {
      await sql`SELECT 1`.execute(this.db);
      return true;
    });
    this.readiness.register('nats', () => !this.publisher.connection.nc.isClosed());
  }

  async onApplicationShutdown(): Promise<void> {
    await closeBus(this.publisher.connection).catch(() => undefined);
    await this.db.destroy().catch(() => undefined);
  }
}

/**
 * The process-wide providers every service needs: its config, the database, a bus
 * connection with a publisher, the logger and the ops endpoints (/healthz, /readyz, /metrics).
 */
@Global()
@Module({})
export class RuntimeModule {
  /** `ops: 'liveness'` keeps only /healthz on the app (its ops endpoints are served apart). */
  static forRoot(
    config: CommonConfig,
    logger: Logger,
    publisher: BusPublisher,
    ops: 'all' | 'liveness' = 'all',
  ): DynamicModule {
    return {
      module: RuntimeModule,
      imports: [OpsModule.forRoot({ endpoints: ops })],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        {
          provide: DB,
          useFactory: () =>
            createDb({
              url: config.database.url,
              poolMax: config.database.poolMax,
              applicationName: config.instanceId,
              statementTimeoutMs: config.database.statementTimeoutMs,
            }),
        },
        { provide: BusPublisher, useValue: publisher },
        RuntimeLifecycle,
      ],
      exports: [CONFIG, LOGGER, DB, BusPublisher, OpsModule],
    };
  }
}
