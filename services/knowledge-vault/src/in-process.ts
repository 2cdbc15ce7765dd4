import 'reflect-metadata';
import { BusExceptionFilter, BusPublisher, connectBus, JetStreamServer } from '@heady/bus';
import { type KnowledgeVaultConfig, loadKnowledgeVaultConfig } from '@heady/config';
import { RuntimeModule } from '@heady/runtime';
import { createLogger } from '@heady/telemetry';
import { type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { KnowledgeVaultModule } from './app.module.js';
import { PIPELINE_RESULTS_CONSUMER } from './pipeline/consumer.js';

/**
 * The vault as its process runs it, RPCs and all, but inside the caller's process and
 * without its ops HTTP port: for medium tests and `npm run bench:vault`, which reach into
 * its services with `app.get(...)`. Unsigned (HEADY_SIGNING=off) unless `env` says otherwise.
 */
export async function startVaultInProcess(
  env: Record<string, string>,
): Promise<{ app: INestMicroservice; config: KnowledgeVaultConfig }> {
  const config = loadKnowledgeVaultConfig({
    NODE_ENV: 'development',
    HEADY_SIGNING: 'off',
    LOG_LEVEL: 'silent',
    HEADY_INSTANCE_ID: 'knowledge-vault-in-process',
    ...env,
  });
  const logger = createLogger(config);
  const publisher = new BusPublisher(await connectBus(config), logger);
  const server = new JetStreamServer({
    config,
    consumers: [PIPELINE_RESULTS_CONSUMER],
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
  return { app, config };
}
