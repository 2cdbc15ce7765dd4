import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { MemoryController } from './memory/memory.controller.js';
import { MemoryService } from './memory/memory.service.js';
import { type openMemory } from './embeddings/embedder.js';

type Memory = Awaited<ReturnType<typeof openMemory>>;
const MEMORY = Symbol('heady.memory');

/** Saves the index and closes DuckDB (a checkpoint) when the process stops. */
@Injectable()
class MemoryLifecycle implements OnApplicationShutdown {
  constructor(@Inject(MEMORY) private readonly memory: Memory) {}
  async onApplicationShutdown(): Promise<void> {
    await this.memory.close();
  }
}

/** Vector memory: DuckDB conversation vectors, the HNSW index, embeddings, zones, stats. */
@Module({})
export class VectorMemoryModule {
  static register(runtime: DynamicModule, memory: Memory): DynamicModule {
    return {
      module: VectorMemoryModule,
      imports: [runtime],
      controllers: [MemoryController],
      providers: [
        { provide: MEMORY, useValue: memory },
        { provide: MemoryService, useValue: memory.service },
        MemoryLifecycle,
      ],
    };
  }
}
