import 'reflect-metadata';
import { BusExceptionFilter, BusPublisher, connectBus, JetStreamServer } from '@heady/bus';
import { type KnowledgeVaultConfig, loadKnowledgeVaultConfig } from '@heady/config';
import { RuntimeModule } from '@heady/runtime';
import { createLogger } from '@heady/telemetry';
import { type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { KnowledgeVaultModule } from '../src/app.module.js';

/** The vault as its process runs it (without HTTP), against the given NATS and database. */
export async function startVault(
  env: Record<string, string>,
): Promise<{ app: INestMicroservice; config: KnowledgeVaultConfig; publisher: BusPublisher }> {
  const config = loadKnowledgeVaultConfig({
    NODE_ENV: 'development',
    HEADY_SIGNING: 'off',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    HEADY_INSTANCE_ID: 'knowledge-vault-test',
    ...env,
  });
  const logger = createLogger(config);
  const publisher = new BusPublisher(await connectBus(config), logger);
  const server = new JetStreamServer({
    config,
    consumers: [],
    queueGroup: 'knowledge-vault',
    logger,
    publisher,
  });
  const app = await NestFactory.createMicroservice(
    KnowledgeVaultModule.register(RuntimeModule.forRoot(config, logger, publisher)),
    { strategy: server, logger: false },
  );
  app.useGlobalFilters(new BusExceptionFilter());
  await app.listen();
  return { app, config, publisher };
}
