import { BusPublisher, watchDlqGauge } from '@heady/bus';
import { LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';

/** How often the DLQ is counted by reason class for `heady_bus_dlq_messages`. */
export const DLQ_GAUGE_INTERVAL_MS = 30_000;

/**
 * Keeps the gauge `heady_bus_dlq_messages{reason}` current from the process that runs the
 * audit writer (one per deployment is enough; replicas count the same stream).
 */
@Injectable()
export class DlqGauge implements OnApplicationBootstrap, OnModuleDestroy {
  private stop: (() => void) | undefined;

  constructor(
    @Inject(BusPublisher) private readonly bus: BusPublisher,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.stop = watchDlqGauge(this.bus.connection, DLQ_GAUGE_INTERVAL_MS, this.log);
  }

  onModuleDestroy(): void {
    this.stop?.();
  }
}
