import { HandleRpc } from '@heady/bus';
import {
  DeleteMemorySession,
  InsertVectors,
  MemoryStats,
  MemoryZone,
  type RpcHandled,
  type RpcReply,
  SearchMemory,
} from '@heady/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { MemoryService } from './memory.service.js';

/**
 * Request/reply RPCs of vector memory (queue group `vector-memory`, so replicas of one
 * instance's database share them). Requests and replies are signed like every bus message;
 * each request is checked against its RPC's schema (libs/contracts) before it gets here.
 */
@Controller()
export class MemoryController {
  constructor(@Inject(MemoryService) private readonly memory: MemoryService) {}

  @HandleRpc(InsertVectors)
  insert(
    @Payload() req: RpcHandled<typeof InsertVectors>,
  ): Promise<RpcReply<typeof InsertVectors>> {
    return this.memory.insert(req);
  }

  @HandleRpc(SearchMemory)
  search(@Payload() req: RpcHandled<typeof SearchMemory>): Promise<RpcReply<typeof SearchMemory>> {
    return this.memory.search(req);
  }

  @HandleRpc(MemoryZone)
  zone(@Payload() req: RpcHandled<typeof MemoryZone>): Promise<RpcReply<typeof MemoryZone>> {
    return this.memory.zone(req);
  }

  @HandleRpc(MemoryStats)
  stats(@Payload() req: RpcHandled<typeof MemoryStats>): Promise<RpcReply<typeof MemoryStats>> {
    return this.memory.stats(req);
  }

  @HandleRpc(DeleteMemorySession)
  deleteSession(
    @Payload() req: RpcHandled<typeof DeleteMemorySession>,
  ): Promise<RpcReply<typeof DeleteMemorySession>> {
    return this.memory.deleteSession(req);
  }
}
