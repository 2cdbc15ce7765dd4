import { type VectorMemoryConfig } from '@heady/config';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { EMBEDDER, createEmbedder } from './embeddings/embedder.js';
import { AnnIndex } from './index/ann-index.js';
import { MemoryController } from './memory/memory.controller.js';
import { MemoryService } from './memory/memory.service.js';
import { VectorsRepository } from './memory/vectors.repository.js';

/** Saves the index, then closes DuckDB (a checkpoint), when the process stops. */
@Injectable()
class MemoryLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(AnnIndex) private readonly index: AnnIndex,
    @Inject(VectorsRepository) private readonly vectors: VectorsRepository,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.index.saveAll();
    await this.vectors.close();
  }
}

/**
 * Vector memory: DuckDB conversation vectors, the HNSW index, embeddings, zones, stats.
 * While the app is created, DuckDB is opened and then each organization's index loaded,
 * caught up or rebuilt from it, so the RPCs are subscribed only once the index is in step;
 * a database that cannot be opened (another dimension, a locked file) stops the process.
 */
@Module({})
export class VectorMemoryModule {
  static register(runtime: DynamicModule): DynamicModule {
    return {
      module: VectorMemoryModule,
      imports: [runtime],
      controllers: [MemoryController],
      providers: [
        {
          provide: VectorsRepository,
          inject: [CONFIG],
          useFactory: (config: VectorMemoryConfig) =>
            VectorsRepository.open(config.memory.dbFile, config.memory.dimensions),
        },
        {
          provide: AnnIndex,
          inject: [VectorsRepository, CONFIG],
          useFactory: async (vectors: VectorsRepository, config: VectorMemoryConfig) => {
            const index = new AnnIndex(vectors, config.memory.indexDir, config.memory.hnsw);
            await index.open();
            return index;
          },
        },
        {
          provide: EMBEDDER,
          inject: [CONFIG, LOGGER],
          // clients read only "the embedding provider answered HTTP 500"; the URL and body go here
          useFactory: (config: VectorMemoryConfig, log: Logger) =>
            createEmbedder(config, (err) => log.warn({ err }, 'embedding provider failed')),
        },
        MemoryService,
        MemoryLifecycle,
      ],
    };
  }
}
