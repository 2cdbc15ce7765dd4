import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { MemoryService } from './memory.service.js';

/**
 * Request/reply RPCs of vector memory (queue group `vector-memory`, so replicas of one
 * instance's database share them). Requests and replies are signed like every bus message.
 */
@Controller()
export class MemoryController {
  constructor(@Inject(MemoryService) private readonly memory: MemoryService) {}

  @MessagePattern('memory.vectors.insert')
  insert(@Payload() req: unknown): Promise<{ ids: string[] }> {
    return this.memory.insert(req);
  }

  @MessagePattern('memory.search')
  search(@Payload() req: unknown): Promise<unknown> {
    return this.memory.search(req);
  }

  @MessagePattern('memory.zone')
  zone(@Payload() req: unknown): Promise<unknown> {
    return this.memory.zone(req);
  }

  @MessagePattern('memory.stats')
  stats(@Payload() req: unknown): Promise<unknown> {
    return this.memory.stats(req);
  }

  @MessagePattern('memory.sessions.delete')
  deleteSession(@Payload() req: unknown): Promise<{ deleted: number }> {
    return this.memory.deleteSession(req);
  }
}
