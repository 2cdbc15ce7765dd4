import { type CommonConfig } from '@heady/config';
import {
  type ConsumerSpec,
  JetStreamServer,
  BusExceptionFilter,
  BusPublisher,
  connectBus,
  type BusConnection,
} from '../src/index.js';
import { type INestMicroservice, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type JsMsg } from '@nats-io/jetstream';

/** The slice of config the bus reads, pointed at a test's own nats-server. */
export function busConfig(
  url: string,
  service = 'test',
): Pick<CommonConfig, 'nats' | 'instanceId' | 'service'> {
  return {
    service,
    instanceId: `${service}-${Math.random().toString(36).slice(2, 8)}`,
    nats: {
      url,
      rpcTimeoutMs: 2000,
      streamMaxAgeDays: 1,
      duplicateWindowSeconds: 60,
      consumerConcurrency: 16,
    },
  };
}

/** A test consumer on PIPELINE with quick retries. */
export function consumer(
  durable: string,
  filterSubject: string,
  over: Partial<ConsumerSpec> = {},
): ConsumerSpec {
  return {
    stream: 'PIPELINE',
    durable,
    filterSubject,
    ackWaitMs: 1000,
    maxDeliver: 3,
    backoffMs: [50, 100],
    ...over,
  };
}

/** Boots a Nest microservice module on the JetStream transport. */
export async function startMicroservice(
  module: Type,
  url: string,
  consumers: ConsumerSpec[],
): Promise<{ app: INestMicroservice; server: JetStreamServer }> {
  const server = new JetStreamServer({ config: busConfig(url), consumers, queueGroup: 'test' });
  const app = await NestFactory.createMicroservice(module, { strategy: server, logger: false });
  app.useGlobalFilters(new BusExceptionFilter());
  await app.listen();
  return { app, server };
}

export async function publisherFor(
  url: string,
): Promise<{ bus: BusConnection; pub: BusPublisher }> {
  // a short JetStream timeout: a publish lost in a server restart is retried quickly
  const bus = await connectBus(busConfig(url, 'pub'), { timeoutMs: 1000 });
  return { bus, pub: new BusPublisher(bus) };
}

/** Waits until `fn` returns a truthy value. */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Reads every message of the DLQ stream so far. */
export async function dlqMessages(bus: BusConnection): Promise<JsMsg[]> {
  const info = await bus.jsm.streams.info('DLQ').catch(() => undefined);
  const n = info?.state.messages ?? 0;
  if (!n) return [];
  const c = await bus.js.consumers.get('DLQ');
  const out: JsMsg[] = [];
  const it = await c.fetch({ max_messages: n, expires: 1000 });
  for await (const m of it) out.push(m);
  return out;
}
