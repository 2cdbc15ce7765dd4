import { Controller, Get, Inject } from '@nestjs/common';
import { RoutingService } from './routing.service.js';

/** `GET /api/conductor/health` (DESIGN-REFERENCE): liveness plus the routing table it serves. */
@Controller('api/conductor')
export class ConductorHealthController {
  constructor(@Inject(RoutingService) private readonly routing: RoutingService) {}

  @Get('health')
  async health(): Promise<{
    status: 'ok';
    layers: Record<string, string>;
    groups: { group: string; weight: number; actions: string[] }[];
  }> {
    return {
      status: 'ok',
      layers: {
        'task-router': 'active',
        'vector-zone': 'not installed',
        'pattern-engine': 'not installed',
        'brain-router': 'pending',
      },
      groups: await this.routing.groups(),
    };
  }
}
