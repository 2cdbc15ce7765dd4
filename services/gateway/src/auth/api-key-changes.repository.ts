import { type GatewayConfig } from '@heady/config';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import pg from 'pg';

/** The channel the api_keys and organizations triggers notify (migration 1764200000000-ApiKeyChanges). */
export const API_KEY_CHANNEL = 'heady_api_keys';

/** What the change feed reports. */
export interface ApiKeyChanges {
  /** A key (by hash) was revoked, deleted or changed. */
  key(keyHash: string): void;
  /** An organization was renamed, changed plan or was deleted. */
  org(orgId: string): void;
  /** The feed is (again) delivering, or has stopped. */
  live(up: boolean): void;
}

/**
 * PostgreSQL's notifications of API key and organization changes, on one dedicated
 * connection (`LISTEN heady_api_keys`); reconnects every second while it is down and
 * reports each transition, so nothing is cached on a feed that may have missed a change.
 */
@Injectable()
export class ApiKeyChangesRepository implements OnModuleInit, OnApplicationShutdown {
  private client: pg.Client | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly subscribers: ApiKeyChanges[] = [];

  constructor(
    @Inject(CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  subscribe(s: ApiKeyChanges): void {
    this.subscribers.push(s);
  }

  async onModuleInit(): Promise<void> {
    if (this.config.apiKeys.cacheMs > 0) await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.config.database.url,
      application_name: `${this.config.instanceId}-key-changes`,
    });
    client.on('notification', (n) => {
      const payload = n.payload ?? '';
      for (const s of this.subscribers) {
        if (payload.startsWith('key:')) s.key(payload.slice(4));
        else if (payload.startsWith('org:')) s.org(payload.slice(4));
      }
    });
    client.on('error', (err) => this.down(client, err));
    client.on('end', () => this.down(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${API_KEY_CHANNEL}`);
      if (this.stopped) {
        await client.end();
        return;
      }
      this.client = client;
      for (const s of this.subscribers) s.live(true);
    } catch (err) {
      client.end().catch(() => undefined);
      this.down(client, err);
    }
  }

  private down(client: pg.Client, err?: unknown): void {
    if (this.client === client) {
      this.client = undefined;
      for (const s of this.subscribers) s.live(false);
      this.log.warn(
        { err },
        'API key change feed is down: key lookups are not cached until it is back',
      );
    }
    if (this.stopped || this.retry || this.client) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, 1_000);
    this.retry.unref();
  }
}
