import { type ConductorConfig } from '@heady/config';
import { CONFIG } from '@heady/runtime';
import { Inject, Injectable } from '@nestjs/common';
import { type AuditRecord, AuditRepository } from './audit.repository.js';

/** How long the first record of a batch waits for company (ms). */
export const AUDIT_BATCH_MS = 5;

/**
 * Gathers the audit events the writer is handling at once into one multi-row insert. Each
 * `write()` resolves when the insert holding its record has committed (or rejects with its
 * error), so the writer acks a message only after its row is stored: a crash before the
 * commit leaves it unacked and JetStream delivers it again (the insert ignores an id it has).
 */
@Injectable()
export class AuditBatcher {
  private pending: { record: AuditRecord; done: (err?: Error) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;

  private readonly max: number;

  constructor(
    @Inject(AuditRepository) private readonly repo: AuditRepository,
    @Inject(CONFIG) config: ConductorConfig,
  ) {
    this.max = config.audit.batchMax;
  }

  write(record: AuditRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ record, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (this.pending.length >= this.max) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), AUDIT_BATCH_MS);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    this.repo.insertMany(batch.map((b) => b.record)).then(
      () => batch.forEach((b) => b.done()),
      (err: unknown) =>
        batch.forEach((b) =>
          b.done(err instanceof Error ? err : new Error(`audit insert failed: ${String(err)}`)),
        ),
    );
  }
}
