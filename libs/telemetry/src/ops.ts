import {
  Controller,
  Get,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  Res,
} from '@nestjs/common';
import { type FastifyReply } from 'fastify';
import { metricsRegistry } from './metrics.js';

/** A readiness check: true (or a promise of true) when the dependency is usable. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

/** The outcome of all readiness checks. */
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, 'ok' | 'failing'>;
}

const CHECK_TIMEOUT_MS = 1_000;

/** Where a process's components register what "ready" means for them. */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();

  /** Adds (or replaces) the check called `name`. */
  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** Runs every check in parallel; one that throws or takes over 1 s counts as failing. */
  async check(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, fn]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const ok = await Promise.race([
            Promise.resolve().then(fn),
            new Promise<boolean>((resolve) => {
              timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
            }),
          ]);
          return [name, ok ? 'ok' : 'failing'] as const;
        } catch {
          return [name, 'failing'] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    return { ready: entries.every(([, s]) => s === 'ok'), checks };
  }
}

/** `/healthz` (alive), `/readyz` (every check passes, else 503 naming the failing ones), `/metrics` (Prometheus). */
@Controller()
export class OpsController {
  constructor(@Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry) {}

  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(@Res() reply: FastifyReply): Promise<void> {
    const report = await this.readiness.check();
    const failing = Object.entries(report.checks)
      .filter(([, s]) => s !== 'ok')
      .map(([n]) => n);
    await reply.status(report.ready ? 200 : 503).send({
      status: report.ready ? 'ready' : 'not ready',
      checks: report.checks,
      ...(failing.length ? { failing } : {}),
    });
  }

  @Get('metrics')
  async metrics(@Res() reply: FastifyReply): Promise<void> {
    await reply
      .header('content-type', metricsRegistry.contentType)
      .send(await metricsRegistry.metrics());
  }
}

/** Mounts the ops endpoints and provides the {@link ReadinessRegistry}. */
@Module({})
export class OpsModule {
  static forRoot(): DynamicModule {
    return {
      module: OpsModule,
      global: true,
      controllers: [OpsController],
      providers: [ReadinessRegistry],
      exports: [ReadinessRegistry],
    };
  }
}
