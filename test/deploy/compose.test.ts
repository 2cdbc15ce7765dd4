// deploy/compose.yaml's `ha` profile (Docker is not on these machines, so its structure is
// checked here; test/e2e/nats-cluster.test.ts runs the same three-server cluster for real):
// three NATS servers with distinct names and stores, routed to each other, and the services
// told the replicas and every server's URL through the environment.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

interface ComposeService {
  profiles?: string[];
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
}
const compose = parse(
  readFileSync(join(import.meta.dirname, '..', '..', 'deploy', 'compose.yaml'), 'utf8'),
  { merge: true },
) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };

describe('deploy/compose.yaml ha profile', () => {
  const servers = ['nats', 'nats-2', 'nats-3'].map((n) => compose.services[n]!);

  it('has three NATS servers, two of them only in the ha profile', () => {
    expect(servers.map((s) => s.profiles)).toEqual([undefined, ['ha'], ['ha']]);
    expect(new Set(servers.map((s) => s.environment!.NATS_NAME)).size).toBe(3);
    expect(new Set(servers.map((s) => s.volumes![0]!.split(':')[0])).size).toBe(3);
    for (const s of servers.slice(1)) expect(s.environment!.HEADY_NATS_CLUSTER).toBe('1');
  });

  it('routes each server to all three and the services take the replicas from the environment', () => {
    const script = servers[0]!.command!.join('\n');
    expect(script).toContain('--routes nats://nats:6222,nats://nats-2:6222,nats://nats-3:6222');
    const gateway = compose.services.gateway!.environment!;
    expect(gateway.HEADY_STREAM_REPLICAS).toBe('${HEADY_STREAM_REPLICAS:-1}');
    expect(gateway.NATS_URL).toBe('${NATS_URL:-nats://nats:4222}');
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(['nats-2', 'nats-3']));
  });
});
