import { type KnowledgeVaultConfig } from '@heady/config';
import { CONFIG } from '@heady/runtime';
import { type DynamicModule, Module } from '@nestjs/common';
import { DocumentsController } from './documents/documents.controller.js';
import { DocumentsRepository } from './documents/documents.repository.js';
import { IngestService } from './documents/ingest.service.js';
import { EMBEDDER, createEmbedder } from './embeddings/embedder.js';
import { KnowledgeEventsRepository } from './events/knowledge-events.repository.js';
import { ReceiptsRepository } from './receipts/receipts.repository.js';
import { ReceiptsService } from './receipts/receipts.service.js';
import { AnnIndex } from './search/ann-index.js';
import { PassagesRepository } from './search/passages.repository.js';
import { SearchController } from './search/search.controller.js';
import { SearchService } from './search/search.service.js';
import { RepoCursorsRepository } from './repos/repo-cursors.repository.js';
import { ReposController } from './repos/repos.controller.js';
import { ReposService } from './repos/repos.service.js';
import { FinishedRunsRepository } from './pipeline/finished-runs.repository.js';
import { KnowledgeSettingsRepository } from './pipeline/knowledge-settings.repository.js';
import { PipelineResultsController } from './pipeline/pipeline-results.controller.js';
import { PipelineResultsService } from './pipeline/pipeline-results.service.js';

/**
 * The knowledge vault: documents split into embedded passages in PostgreSQL, a receipt for
 * everything done to them, and hybrid search. Stateless apart from the ANN graphs, which
 * are views of PostgreSQL, so replicas scale alone behind the `knowledge-vault` queue group.
 */
@Module({})
export class KnowledgeVaultModule {
  static register(runtime: DynamicModule): DynamicModule {
    return {
      module: KnowledgeVaultModule,
      imports: [runtime],
      controllers: [
        DocumentsController,
        SearchController,
        ReposController,
        PipelineResultsController,
      ],
      providers: [
        { provide: EMBEDDER, inject: [CONFIG], useFactory: createEmbedder },
        {
          provide: AnnIndex,
          inject: [PassagesRepository, CONFIG],
          useFactory: (passages: PassagesRepository, config: KnowledgeVaultConfig) =>
            new AnnIndex(passages, config.vault.dimensions, config.vault.hnsw),
        },
        DocumentsRepository,
        PassagesRepository,
        ReceiptsRepository,
        KnowledgeEventsRepository,
        IngestService,
        ReceiptsService,
        SearchService,
        RepoCursorsRepository,
        ReposService,
        FinishedRunsRepository,
        KnowledgeSettingsRepository,
        PipelineResultsService,
      ],
    };
  }
}
